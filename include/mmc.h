/*
 * mmc.h — the public C API of mmc, multimodal deep learning in C.
 *
 * The umbrella header: it includes include/mmc/LAYER.h, one header per layer (core, ops, nn,
 * loss, optim, io, data, eval, index, models; see each for what it holds). A program may
 * include the umbrella or only the layers it uses. Names are mmc_<module>_<verb> for
 * functions and mmc_<thing> for types.
 *
 * The model of computation (see docs/architecture.md):
 *
 *   mmc_ctx      holds the step arena (activations, gradients, tape nodes), the
 *                autograd tape, the grad-mode flag, and the last error.
 *   mmc_tensor   f32, contiguous, row-major, up to 5 dims. Parameters are
 *                "persistent" (malloc'd, live until mmc_tensor_free); everything an
 *                op returns lives in the ctx arena until mmc_ctx_reset().
 *   ops          mmc_add(ctx, a, b) ... build the output and, when grad mode is on
 *                and an input requires grad, record a backward node on the tape.
 *   backward     mmc_backward(ctx, loss) walks the tape in reverse and accumulates
 *                into every .grad (parameter grads accumulate until mmc_tensor_zero_grad).
 *
 * Errors: functions that can fail return an int status (MMC_OK = 0) or NULL, and
 * fill an mmc_error (for ops: ctx->err) with a message that names the context. The
 * library never exits or aborts on bad input. Status codes double as CLI exit codes.
 */
#ifndef MMC_H
#define MMC_H

#include "mmc/core.h"
#include "mmc/ops.h"
#include "mmc/nn.h"
#include "mmc/loss.h"
#include "mmc/optim.h"
#include "mmc/io.h"
#include "mmc/data.h"
#include "mmc/eval.h"
#include "mmc/index.h"
#include "mmc/models.h"

#endif /* MMC_H */
