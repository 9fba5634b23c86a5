#version 430
// Rasterizer, fragment stage: exact barycentrics and depth of the pixel centre, from the
// intersection of the camera ray through it with the triangle (computed in pixel units).

uniform ivec2 frame_size;

flat in vec3 g_p0;
flat in vec3 g_p1;
flat in vec3 g_p2;
flat in int g_frame;
flat in int g_triangle;
flat in vec4 g_intrinsics;

layout(location = 0) out int out_id;      // triangle id + 1 (the target is cleared to 0)
layout(location = 1) out vec3 out_bary;   // (b0, b1, b2), non-negative, summing to 1
layout(location = 2) out float out_depth; // camera-space z of b0 p0 + b1 p1 + b2 p2

vec3 edge_point(vec2 a, vec2 b, out float dist2) {
    // Nearest point to the origin on segment [a, b]: (1 - s) a + s b; returns (1 - s, s, 0).
    vec2 e = b - a;
    float ee = dot(e, e);
    float s = ee > 0.0 ? clamp(-dot(a, e) / ee, 0.0, 1.0) : 0.0;
    vec2 q = a + s * e;
    dist2 = dot(q, q);
    return vec3(1.0 - s, s, 0.0);
}

vec3 nearest_point_barycentrics(vec2 h0, vec2 h1, vec2 h2, vec3 z, vec3 bary) {
    // Barycentrics of the point of the projected triangle nearest to the pixel centre,
    // perspective-corrected. Corners behind the camera have no projection: clamp instead.
    if (min(z.x, min(z.y, z.z)) <= 0.0) {
        bary = max(bary, vec3(0.0));
        float s = bary.x + bary.y + bary.z;
        return s > 0.0 ? bary / s : vec3(1.0 / 3.0);
    }
    vec2 d0 = h0 / z.x;  // projected corners relative to the pixel centre, in pixels
    vec2 d1 = h1 / z.y;
    vec2 d2 = h2 / z.z;
    float e01, e12, e20;
    vec3 l01 = edge_point(d0, d1, e01);
    vec3 l12 = edge_point(d1, d2, e12);
    vec3 l20 = edge_point(d2, d0, e20);
    vec3 lam = vec3(l01.x, l01.y, 0.0);
    float best = e01;
    if (e12 < best) { lam = vec3(0.0, l12.x, l12.y); best = e12; }
    if (e20 < best) { lam = vec3(l20.y, 0.0, l20.x); }
    vec3 w = lam / z;  // screen-space barycentrics -> perspective-correct ones
    return w / (w.x + w.y + w.z);
}

void main() {
    // Pixel centre in this frame; gl_FragCoord is at +0.5 and exact in float.
    float u = gl_FragCoord.x;
    float v = gl_FragCoord.y - float(g_frame * frame_size.y);
    // Pixel-relative homogeneous coordinates of the corners: h = (z (s_x - u), z (s_y - v))
    // with s the projection of the corner. The perspective-correct barycentrics are the 2D
    // cross products w_i = h_j x h_k normalised to sum 1: the same as intersecting the ray
    // through the pixel centre with the triangle (w_i = d . (p_j x p_k), d = the ray), but
    // free of the cancellation of large camera-space coordinates for edge-on triangles, and
    // valid for corners behind the camera.
    vec2 ku = vec2(g_intrinsics.z - u, g_intrinsics.w - v);
    vec2 h0 = g_intrinsics.xy * g_p0.xy + ku * g_p0.z;
    vec2 h1 = g_intrinsics.xy * g_p1.xy + ku * g_p1.z;
    vec2 h2 = g_intrinsics.xy * g_p2.xy + ku * g_p2.z;
    vec3 bary = vec3(h1.x * h2.y - h1.y * h2.x, h2.x * h0.y - h2.y * h0.x, h0.x * h1.y - h0.y * h1.x);
    float a = bary.x + bary.y + bary.z;
    bary = a != 0.0 ? bary / a : vec3(1.0 / 3.0);
    if (min(bary.x, min(bary.y, bary.z)) < 0.0) {
        // The pixel centre lies (within the rasterizer's sub-pixel precision) outside the
        // triangle: an edge or silhouette pixel. Use the triangle's nearest point in the image.
        bary = nearest_point_barycentrics(h0, h1, h2, vec3(g_p0.z, g_p1.z, g_p2.z), bary);
    }
    out_id = g_triangle + 1;
    out_bary = bary;
    out_depth = bary.x * g_p0.z + bary.y * g_p1.z + bary.z * g_p2.z;
}
