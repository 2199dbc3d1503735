/* lstm: the input projection of all steps is a CLBlast GEMM, and so is
 * each step's recurrent product except at inference in small layers
 * (lstm_step); these kernels add the bias and apply the gates (Keras
 * order i, f, c, o). */

/* proj[r][k] += bias[k] over rows of `gates` values. */
__kernel void lstm_add_bias(__global float *proj, uint proj_off, ulong count,
                            uint gates, __global const float *bias,
                            uint bias_off) {
  ulong i = get_global_id(0);
  if (i >= count)
    return;
  proj[proj_off + i] += bias[bias_off + (uint)(i % gates)];
}

/* Unit k of sample s at step t: c and h into the state, and h into the
 * output (every step with return_sequences, else the last one). */
void lstm_store(float c, float h, __global float *state, uint c_off, uint h_off,
                ulong at, __global float *y, uint y_off, ulong row, uint units,
                uint k, uint t, uint steps, int sequences) {
  state[c_off + at] = c;
  state[h_off + at] = h;
  if (sequences)
    y[y_off + row * units + k] = h;
  else if (t + 1 == steps)
    y[y_off + at] = h;
}

/* Keras' cell from unit k's four pre-activations, stored by lstm_store. */
void lstm_cell(float zi, float zf, float zc, float zo, float c_prev,
               __global float *state, uint c_off, uint h_off, ulong at,
               __global float *y, uint y_off, ulong row, uint units, uint k,
               uint t, uint steps, int sequences) {
  float c = gesta_sigmoid(zf) * c_prev + gesta_sigmoid(zi) * tanh(zc);
  float h = gesta_sigmoid(zo) * tanh(c);
  lstm_store(c, h, state, c_off, h_off, at, y, y_off, row, units, k, t, steps,
             sequences);
}

/* One whole inference step t for small layers: work item (k, s) adds
 * h_{t-1} . recurrent_kernel to unit k's four pre-activations itself and
 * applies the gates, where a CLBlast GEMM and lstm_gates would take two
 * launches (on a GPU each of the 20 steps' GEMMs cost about 20 us at
 * batch 1). h is read from h_in and written to h_out, two slots that the
 * host swaps every step, so no work item reads an h another one is
 * writing. */
__kernel void lstm_step(__global const float *proj, uint proj_off,
                        __global float *state, uint h_in, uint h_out,
                        uint c_off, __global const float *rk, uint rk_off,
                        __global float *y, uint y_off, uint n, uint steps,
                        uint units, uint t, int sequences) {
  uint k = get_global_id(0);
  uint s = get_global_id(1);
  if (k >= units || s >= n)
    return;
  ulong row = (ulong)s * steps + t;
  __global const float *z = proj + proj_off + row * 4 * units;
  float zi = z[k], zf = z[units + k], zc = z[2 * units + k];
  float zo = z[3 * units + k];
  ulong at = (ulong)s * units + k;
  float c_prev = 0.0f;
  if (t > 0) {
    __global const float *h = state + h_in + (ulong)s * units;
    __global const float *w = rk + rk_off + k;
    for (uint j = 0; j < units; j++, w += 4 * units) {
      float hj = h[j];
      zi += hj * w[0];
      zf += hj * w[units];
      zc += hj * w[2 * units];
      zo += hj * w[3 * units];
    }
    c_prev = state[c_off + at];
  }
  lstm_cell(zi, zf, zc, zo, c_prev, state, c_off, h_out, at, y, y_off, row,
            units, k, t, steps, sequences);
}

/* One step t for every sample: work item (k, n) is unit k of sample n.
 * z is the step's pre-activations at proj[(n * steps + t) * 4u]; the
 * previous cell state is zero at t = 0, so the workspace needs no
 * clearing. Writes c and h (the next step's GEMM reads h) and the output:
 * every step with return_sequences, else the last one. */
__kernel void lstm_gates(__global const float *proj, uint proj_off,
                         __global float *state, uint h_off, uint c_off,
                         __global float *y, uint y_off, uint n, uint steps,
                         uint units, uint t, int sequences) {
  uint k = get_global_id(0);
  uint s = get_global_id(1);
  if (k >= units || s >= n)
    return;
  ulong row = (ulong)s * steps + t;
  __global const float *z = proj + proj_off + row * 4 * units;
  ulong at = (ulong)s * units + k;
  lstm_cell(z[k], z[units + k], z[2 * (ulong)units + k],
            z[3 * (ulong)units + k], t > 0 ? state[c_off + at] : 0.0f, state,
            c_off, h_off, at, y, y_off, row, units, k, t, steps, sequences);
}
