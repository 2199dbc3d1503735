/* The start of every gesta OpenCL program (OpenCL C 1.2). */

/* Fused activations, numbered like gesta_activation in gesta/op.h
 * (softmax is a kernel of its own, never fused). */
#define GESTA_ACTIVATION_LINEAR 0
#define GESTA_ACTIVATION_RELU 1
#define GESTA_ACTIVATION_SIGMOID 2
#define GESTA_ACTIVATION_TANH 3

/* The CPU reference's formulas, so devices agree with it to rounding:
 * relu maps NaN to 0 like `x > 0 ? x : 0` does on the host. Plain
 * functions, not `inline`: C99 inline semantics leave some compilers
 * without a definition to call. */
float gesta_sigmoid(float x) {
  return 1.0f / (1.0f + exp(-x));
}

float gesta_activate(float x, int activation) {
  switch (activation) {
  case GESTA_ACTIVATION_RELU:
    return x > 0.0f ? x : 0.0f;
  case GESTA_ACTIVATION_SIGMOID:
    return gesta_sigmoid(x);
  case GESTA_ACTIVATION_TANH:
    return tanh(x);
  default:
    return x;
  }
}
