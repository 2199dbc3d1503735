/* lstm in training: a gates kernel that also keeps every step's activated
 * gates, cell state and output in `saved` (rows n * T + t: gates (4u), then
 * c (u), then h (u), the CPU reference's layout), and backward through time
 * one step at a time (the recurrent GEMMs between steps are CLBlast's). */

/* lstm_gates (lstm.cl), plus the saved state: the gates are activated
 * here, since they are kept, and stored through lstm_store. */
__kernel void lstm_gates_saved(__global const float *proj, uint proj_off,
                               __global float *state, uint h_off, uint c_off,
                               __global float *y, uint y_off,
                               __global float *saved, uint saved_off, uint n,
                               uint steps, uint units, uint t, int sequences) {
  uint k = get_global_id(0);
  uint s = get_global_id(1);
  if (k >= units || s >= n)
    return;
  ulong row = (ulong)s * steps + t, rows = (ulong)n * steps;
  __global const float *z = proj + proj_off + row * 4 * units;
  float i = gesta_sigmoid(z[k]);
  float f = gesta_sigmoid(z[units + k]);
  float cell = tanh(z[2 * (ulong)units + k]);
  float o = gesta_sigmoid(z[3 * (ulong)units + k]);
  ulong at = (ulong)s * units + k;
  float c_prev = t > 0 ? state[c_off + at] : 0.0f;
  float c = f * c_prev + i * cell;
  float h = o * tanh(c);
  lstm_store(c, h, state, c_off, h_off, at, y, y_off, row, units, k, t, steps,
             sequences);
  __global float *sg = saved + saved_off + row * 4 * units;
  sg[k] = i;
  sg[units + k] = f;
  sg[2 * (ulong)units + k] = cell;
  sg[3 * (ulong)units + k] = o;
  saved[saved_off + rows * 4 * units + row * units + k] = c;
  saved[saved_off + rows * 5 * units + row * units + k] = h;
}

/* Step t backward for every sample: work item (k, s) is unit k of sample
 * s. dh is the output's gradient at this step plus what step t + 1 sent
 * back through the recurrent kernel (dhr); writes the gate gradients dz,
 * carries dc to step t - 1 and copies h_{t-1} into hprev for the
 * recurrent kernel's gradient. */
__kernel void lstm_backward_step(__global const float *saved, uint saved_off,
                                 __global const float *dy, uint dy_off,
                                 __global float *ws, uint dz_off,
                                 uint hprev_off, uint dc_off, uint dhr_off,
                                 uint n, uint steps, uint units, uint t,
                                 int sequences) {
  uint k = get_global_id(0);
  uint s = get_global_id(1);
  if (k >= units || s >= n)
    return;
  ulong u = units, row = (ulong)s * steps + t, rows = (ulong)n * steps;
  __global const float *gt = saved + saved_off + row * 4 * u;
  __global const float *sc = saved + saved_off + rows * 4 * u;
  __global const float *sh = sc + rows * u;
  float i = gt[k], f = gt[u + k], cell = gt[2 * u + k], o = gt[3 * u + k];
  float tc = tanh(sc[row * u + k]);
  float dyk = 0.0f;
  if (sequences)
    dyk = dy[dy_off + row * u + k];
  else if (t + 1 == steps)
    dyk = dy[dy_off + (ulong)s * u + k];
  ulong at = (ulong)s * u + k;
  float dhk = ws[dhr_off + at] + dyk;
  float dck = ws[dc_off + at] + dhk * o * (1.0f - tc * tc);
  __global float *dzt = ws + dz_off + row * 4 * u;
  dzt[k] = dck * cell * i * (1.0f - i);
  dzt[u + k] = t > 0 ? dck * sc[(row - 1) * u + k] * f * (1.0f - f) : 0.0f;
  dzt[2 * u + k] = dck * i * (1.0f - cell * cell);
  dzt[3 * u + k] = dhk * tc * o * (1.0f - o);
  ws[dc_off + at] = dck * f;
  ws[hprev_off + row * u + k] = t > 0 ? sh[(row - 1) * u + k] : 0.0f;
}
