// sgdsde/limits/limits.hpp — the limits area in one include: per-sample models, the learning SDE
// (SME1/SME2 of Li, Tai & E; Jastrzębski et al. 2018 eq. 5) and the SGD-versus-SDE studies
// (trajectories, weak error, η/S invariance).
#pragma once

#include "sgdsde/limits/model.hpp"
#include "sgdsde/limits/learning_sde.hpp"
#include "sgdsde/limits/trajectories.hpp"
#include "sgdsde/limits/weak_error.hpp"
#include "sgdsde/limits/invariance.hpp"
