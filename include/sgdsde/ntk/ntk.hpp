// sgdsde/ntk/ntk.hpp — the NTK area (Borovykh 2019): analytic NNGP/NTK kernels, the empirical NTK of an
// nn::Mlp, the closed-form evolution of the linearised network, and noisy gradient descent (Lemma 3,
// corrected; see docs/theory.md).
#pragma once

#include "sgdsde/ntk/kernels.hpp"
#include "sgdsde/ntk/empirical.hpp"
#include "sgdsde/ntk/evolution.hpp"
#include "sgdsde/ntk/noisy.hpp"
