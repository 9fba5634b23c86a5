#version 430
// Rasterizer, fragment stage: exact barycentrics and depth of the pixel centre, from the
// intersection of the camera ray through it with the triangle (jaxrefine.render.
// pixel_barycentrics is the same formula in JAX).

flat in vec3 g_p0;
flat in vec3 g_p1;
flat in vec3 g_p2;
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

vec3 nearest_point_barycentrics(vec2 d0, vec2 d1, vec2 d2, vec3 z) {
    // Perspective-correct barycentrics of the projected triangle's point nearest to the pixel
    // centre (d_i: projected corners relative to the pixel centre, in pixels).
    float e01, e12, e20;
    vec3 l01 = edge_point(d0, d1, e01);
    vec3 l12 = edge_point(d1, d2, e12);
    vec3 l20 = edge_point(d2, d0, e20);
    vec3 lam = vec3(l01.x, l01.y, 0.0);
    float best = e01;
    if (e12 < best) { lam = vec3(0.0, l12.x, l12.y); best = e12; }
    if (e20 < best) { lam = vec3(l20.y, 0.0, l20.x); }
    vec3 w = lam / z;
    return w / (w.x + w.y + w.z);
}

void main() {
    // Pixel centre (u, v); gl_FragCoord is at +0.5 and exact in float.
    float u = gl_FragCoord.x;
    float v = gl_FragCoord.y;
    // Barycentrics of the intersection of the ray through the pixel centre with the triangle.
    // d_i: projected corners relative to the pixel centre (pixels); screen-space weights are
    // the 2D cross products l_0 = d_1 x d_2 etc., perspective-corrected as l_i / z_i. Small
    // pixel-relative numbers keep float32 accurate. With a corner behind the camera (clipped
    // at the near plane) use the homogeneous d_i = (fx x + (cx - u) z, fy y + (cy - v) z),
    // whose cross products are proportional to l_i / z_i already.
    vec3 z = vec3(g_p0.z, g_p1.z, g_p2.z);
    vec2 f = g_intrinsics.xy;
    vec2 c = g_intrinsics.zw;
    vec2 pix = vec2(u, v);
    bool front = min(z.x, min(z.y, z.z)) > 0.0;
    vec2 d0, d1, d2;
    if (front) {
        d0 = (f * g_p0.xy / g_p0.z + c) - pix;
        d1 = (f * g_p1.xy / g_p1.z + c) - pix;
        d2 = (f * g_p2.xy / g_p2.z + c) - pix;
    } else {
        d0 = f * g_p0.xy + (c - pix) * g_p0.z;
        d1 = f * g_p1.xy + (c - pix) * g_p1.z;
        d2 = f * g_p2.xy + (c - pix) * g_p2.z;
    }
    vec3 w = vec3(d1.x * d2.y - d1.y * d2.x, d2.x * d0.y - d2.y * d0.x, d0.x * d1.y - d0.y * d1.x);
    if (front) {
        w /= z;
    }
    float a = w.x + w.y + w.z;
    vec3 bary = a != 0.0 ? w / a : vec3(1.0 / 3.0);
    if (min(bary.x, min(bary.y, bary.z)) < 0.0) {
        // The pixel centre lies (within the rasterizer's sub-pixel snapping) outside the
        // triangle: an edge or silhouette pixel. Take the triangle's nearest point in the
        // image; with a corner behind the camera clamp and renormalise instead.
        if (front) {
            bary = nearest_point_barycentrics(d0, d1, d2, z);
        } else {
            bary = max(bary, vec3(0.0));
            float s = bary.x + bary.y + bary.z;
            bary = s > 0.0 ? bary / s : vec3(1.0 / 3.0);
        }
    }
    out_id = g_triangle + 1;
    out_bary = bary;
    out_depth = dot(bary, z);
}
