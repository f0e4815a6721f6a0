// sgdsde/sgdsde.hpp — umbrella header: includes every area of the library.
#pragma once

#include "sgdsde/core/error.hpp"
#include "sgdsde/core/random.hpp"
#include "sgdsde/core/scalar.hpp"
