// norm.cu — layernorm / rmsnorm / groupnorm over the last axis, with the residual add in front
// fused (argument block KaNorm in kargs.h). One warp per row (per (row, group) for groupnorm)
// of x[rows, C]; statistics in f32 accumulated per lane and combined by shuffles (two passes:
// mean, then the centred variance, as runtime/interp/norm.c defines them; biased variance, eps
// inside the square root).
//   x = a (+ b);  layernorm y = (x - mu) rsqrt(var + eps) gain + bias;  rmsnorm y = x rsqrt(mean x^2 + eps) gain
//   groupnorm: layernorm's statistics per group of W = C / groups channels, gain / bias per channel

extern "C" __global__ void k_norm_fwd(KaNorm a) {
  const int lane = threadIdx.x & 31;
  const long long warp = gtid() >> 5, nwarps = gstride() >> 5;
  const long long G = a.groups > 1 ? a.groups : 1, W = a.C / G, C = a.C;
  for (long long rg = warp; rg < a.rows * G; rg += nwarps) {
    const long long r = rg / G, c0 = (rg - r * G) * W; // this group's first channel
    const float *xa = a.a + r * C + c0, *xb = a.b ? a.b + r * C + c0 : 0;
    float s = 0;
    for (long long c = lane; c < W; c += 32) {
      float x = xa[c] + (xb ? xb[c] : 0.0f);
      if (a.xs) a.xs[r * C + c0 + c] = x;
      s += a.rms ? x * x : x;
    }
    s = warp_sum(s);
    float mu = a.rms ? 0.0f : s / (float)W, var;
    if (a.rms) {
      var = s / (float)W;
    } else {
      float q = 0;
      for (long long c = lane; c < W; c += 32) {
        float d = xa[c] + (xb ? xb[c] : 0.0f) - mu;
        q += d * d;
      }
      var = warp_sum(q) / (float)W;
    }
    float inv = 1.0f / sqrtf(var + a.eps);
    for (long long c = lane; c < W; c += 32) {
      float x = xa[c] + (xb ? xb[c] : 0.0f);
      float y = (x - mu) * inv;
      if (a.gain) y *= a.gain[c0 + c];
      if (a.bias && !a.rms) y += a.bias[c0 + c];
      a.y[r * C + c0 + c] = y;
    }
  }
}

// The same with one thread per (row, group): for narrow groups (W < 32; DiJiang's GroupNorm has
// W = heads), where a warp per group would leave most lanes idle.
extern "C" __global__ void k_norm_fwd_small(KaNorm a) {
  const long long G = a.groups > 1 ? a.groups : 1, W = a.C / G, C = a.C;
  for (long long rg = gtid(); rg < a.rows * G; rg += gstride()) {
    const long long r = rg / G, c0 = (rg - r * G) * W;
    const float *xa = a.a + r * C + c0, *xb = a.b ? a.b + r * C + c0 : 0;
    float s = 0;
    for (long long c = 0; c < W; c++) {
      float x = xa[c] + (xb ? xb[c] : 0.0f);
      if (a.xs) a.xs[r * C + c0 + c] = x;
      s += a.rms ? x * x : x;
    }
    float mu = a.rms ? 0.0f : s / (float)W, var;
    if (a.rms) {
      var = s / (float)W;
    } else {
      float q = 0;
      for (long long c = 0; c < W; c++) {
        float d = xa[c] + (xb ? xb[c] : 0.0f) - mu;
        q += d * d;
      }
      var = q / (float)W;
    }
    float inv = 1.0f / sqrtf(var + a.eps);
    for (long long c = 0; c < W; c++) {
      float x = xa[c] + (xb ? xb[c] : 0.0f);
      float y = (x - mu) * inv;
      if (a.gain) y *= a.gain[c0 + c];
      if (a.bias && !a.rms) y += a.bias[c0 + c];
      a.y[r * C + c0 + c] = y;
    }
  }
}
