#version 430
// Rasterizer, geometry stage: sends the triangle to its frame's layer, hands its three
// camera-space corners and its id to every fragment (flat), optionally drops back faces.

layout(triangles) in;
layout(triangle_strip, max_vertices = 3) out;

uniform int cull_backfaces;   // 1: drop triangles whose normal (p1-p0)x(p2-p0) faces away

in vec3 v_point[];
flat in int v_frame[];
flat in vec4 v_intrinsics[];

flat out vec3 g_p0;
flat out vec3 g_p1;
flat out vec3 g_p2;
flat out int g_triangle;
flat out vec4 g_intrinsics;

void main() {
    vec3 p0 = v_point[0];
    vec3 p1 = v_point[1];
    vec3 p2 = v_point[2];
    if (cull_backfaces != 0 && dot(cross(p1 - p0, p2 - p0), p0) >= 0.0) {
        return;
    }
    for (int i = 0; i < 3; ++i) {
        gl_Position = gl_in[i].gl_Position;
        gl_Layer = v_frame[0];
        g_p0 = p0;
        g_p1 = p1;
        g_p2 = p2;
        g_triangle = gl_PrimitiveIDIn;  // restarts at 0 for every instance (frame)
        g_intrinsics = v_intrinsics[0];
        EmitVertex();
    }
    EndPrimitive();
}
