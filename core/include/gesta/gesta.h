/* gesta — activity recognition in video on any backend. Umbrella header. */
#ifndef GESTA_H
#define GESTA_H

#include "gesta/backend.h"
#include "gesta/context.h"
#include "gesta/cpu.h"
#include "gesta/error.h"
#include "gesta/executor.h"
#include "gesta/metrics.h"
#include "gesta/model.h"
#include "gesta/op.h"
#include "gesta/safetensors.h"
#include "gesta/tensor.h"
#include "gesta/train.h"
#include "gesta/version.h"

#endif
