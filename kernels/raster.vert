#version 430
// Rasterizer, vertex stage. One instance per frame (the geometry stage sends each frame to its
// own layer of the layered targets). World-space vertices come from a storage buffer indexed
// by the element buffer (gl_VertexID is the index value), so all frames share one element
// buffer of faces.

layout(std430, binding = 0) readonly buffer Vertices { float vertices[]; };  // (B, V, 3)
layout(std430, binding = 1) readonly buffer Cameras { float cameras[]; };    // (B, 16)

uniform int num_vertices;     // V
uniform ivec2 frame_size;     // (W, H)
uniform vec2 depth_range;     // (znear, zfar) of the hardware depth test

out vec3 v_point;             // camera-space position
flat out int v_frame;         // frame index in this pass = target layer
flat out vec4 v_intrinsics;   // (fx, fy, cx, cy)

void main() {
    int b = gl_InstanceID;
    int base = 3 * (b * num_vertices + gl_VertexID);
    vec3 x = vec3(vertices[base], vertices[base + 1], vertices[base + 2]);
    int c = 16 * b;
    vec4 k = vec4(cameras[c], cameras[c + 1], cameras[c + 2], cameras[c + 3]);
    // cameras[c + 4 ...] is R row-major; GLSL's mat3 constructor takes columns.
    mat3 R = mat3(cameras[c + 4], cameras[c + 7], cameras[c + 10],
                  cameras[c + 5], cameras[c + 8], cameras[c + 11],
                  cameras[c + 6], cameras[c + 9], cameras[c + 12]);
    vec3 t = vec3(cameras[c + 13], cameras[c + 14], cameras[c + 15]);
    vec3 p = R * x + t;
    // Window coordinates (x, y) = pixel coordinates (u, v): read-back rows are image rows,
    // top row first. Clip space: (2 u z / W - z, 2 v z / H - z, ., z).
    float uz = k.x * p.x + k.z * p.z;
    float vz = k.y * p.y + k.w * p.z;
    float n = depth_range.x;
    float f = depth_range.y;
    gl_Position = vec4(2.0 * uz / float(frame_size.x) - p.z,
                       2.0 * vz / float(frame_size.y) - p.z,
                       (f + n) / (f - n) * p.z - 2.0 * f * n / (f - n),
                       p.z);
    v_point = p;
    v_frame = b;
    v_intrinsics = k;
}
