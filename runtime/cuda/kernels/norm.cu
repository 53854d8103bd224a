// norm.cu — layernorm / rmsnorm over the last axis, with the residual add in front fused
// (argument block KaNorm in kargs.h). One warp per row of x[rows, C]; statistics in f32
// accumulated per lane and combined by shuffles (two passes: mean, then the centred variance,
// as runtime/interp/norm.c defines them; biased variance, eps inside the square root).
//   x = a (+ b);  layernorm y = (x - mu) rsqrt(var + eps) gain + bias;  rmsnorm y = x rsqrt(mean x^2 + eps) gain

extern "C" __global__ void k_norm_fwd(KaNorm a) {
  const int lane = threadIdx.x & 31;
  const long long warp = gtid() >> 5, nwarps = gstride() >> 5;
  const long long C = a.C;
  for (long long r = warp; r < a.rows; r += nwarps) {
    const float *xa = a.a + r * C, *xb = a.b ? a.b + r * C : 0;
    float s = 0;
    for (long long c = lane; c < C; c += 32) {
      float x = xa[c] + (xb ? xb[c] : 0.0f);
      if (a.xs) a.xs[r * C + c] = x;
      s += a.rms ? x * x : x;
    }
    s = warp_sum(s);
    float mu = a.rms ? 0.0f : s / (float)C, var;
    if (a.rms) {
      var = s / (float)C;
    } else {
      float q = 0;
      for (long long c = lane; c < C; c += 32) {
        float d = xa[c] + (xb ? xb[c] : 0.0f) - mu;
        q += d * d;
      }
      var = warp_sum(q) / (float)C;
    }
    float inv = 1.0f / sqrtf(var + a.eps);
    for (long long c = lane; c < C; c += 32) {
      float x = xa[c] + (xb ? xb[c] : 0.0f);
      float y = (x - mu) * inv;
      if (a.gain) y *= a.gain[c];
      if (a.bias && !a.rms) y += a.bias[c];
      a.y[r * C + c] = y;
    }
  }
}
