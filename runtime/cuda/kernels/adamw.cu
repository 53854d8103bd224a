// adamw.cu — the optimizer over every parameter a step trains, in one launch each (argument
// block KaAdam in kargs.h; the update of runtime/optim.c, in f64 per element):
//   k_sqnorm        part[c] = sum over chunk c of (inv[module] * g)^2
//   k_sqnorm_final  norm[0] = sqrt(sum_c part[c]) (one block, chunk order: deterministic)
//   k_adamw         g' = inv[module] * g * clip (+ wd * w for Adam), m = b1 m + (1 - b1) g',
//                   v = b2 v + (1 - b2) g'^2, w = w * (1 - lr wd [AdamW]) - lr / c1 * m / (sqrt(v / c2) + eps)
//                   with c1 = 1 - b1^t, c2 = 1 - b2^t, t = steps[module]; g is zeroed for the next
//                   step and the bf16 copy of w refreshed when there is one.
// One block of 256 threads per chunk of KA_ADAM_CHUNK elements of one tensor.

extern "C" __global__ void k_sqnorm(KaAdam a) {
  __shared__ double sh[32];
  for (long long c = blockIdx.x; c < a.nchunks; c += gridDim.x) {
    const KaAdamTensor *T = &a.tensors[a.tab[c]];
    long long s = a.start[c], e = s + KA_ADAM_CHUNK < T->n ? s + KA_ADAM_CHUNK : T->n;
    double inv = a.inv[T->module], acc = 0;
    for (long long i = s + threadIdx.x; i < e; i += blockDim.x) {
      double g = inv * (double)T->g[i];
      acc += g * g;
    }
    acc = warp_sum_d(acc);
    __syncthreads();
    if ((threadIdx.x & 31) == 0) sh[threadIdx.x >> 5] = acc;
    __syncthreads();
    if (threadIdx.x == 0) {
      double t = 0;
      for (int w = 0; w < (int)(blockDim.x >> 5); w++) t += sh[w];
      a.part[c] = t;
    }
  }
}

extern "C" __global__ void k_sqnorm_final(KaAdam a) {
  if (blockIdx.x != 0 || threadIdx.x != 0) return;
  double t = 0;
  for (long long c = 0; c < a.nchunks; c++) t += a.part[c];
  a.norm[0] = sqrt(t);
}

extern "C" __global__ void k_adamw(KaAdam a) {
  const double lr = a.step->lr, max_norm = a.step->max_norm, norm = a.norm ? a.norm[0] : 0.0;
  const double clip = max_norm > 0 && norm > max_norm ? max_norm / (norm + 1e-6) : 1.0;
  for (long long c = blockIdx.x; c < a.nchunks; c += gridDim.x) {
    const KaAdamTensor *T = &a.tensors[a.tab[c]];
    long long s = a.start[c], e = s + KA_ADAM_CHUNK < T->n ? s + KA_ADAM_CHUNK : T->n;
    double inv = a.inv[T->module];
    if (inv == 0) continue;  // the module did not train this step
    double t = (double)a.steps[T->module];
    double c1 = 1.0 - pow(a.beta1, t), c2 = 1.0 - pow(a.beta2, t);
    double step = lr / c1, decay = a.kind == 0 ? 1.0 - lr * a.wd : 1.0, l2 = a.kind == 1 ? a.wd : 0.0;
    for (long long i = s + threadIdx.x; i < e; i += blockDim.x) {
      double w = T->w[i], g = (double)T->g[i] * inv * clip + l2 * w;
      double m = a.beta1 * (double)T->m[i] + (1 - a.beta1) * g;
      double v = a.beta2 * (double)T->v[i] + (1 - a.beta2) * g * g;
      T->m[i] = (float)m;
      T->v[i] = (float)v;
      float wn = (float)(w * decay - step * m / (sqrt(v / c2) + a.eps));
      T->w[i] = wn;
      T->g[i] = 0.0f;
      if (T->wb) T->wb[i] = to_bf16(wn);
    }
  }
}
