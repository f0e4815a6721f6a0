// tests/support/scalars.hpp — the Scalar list of the templated test cases of the heavy suites,
// included into every test translation unit by tests/CMakeLists.txt. Release builds test float and
// double; the sanitizer build (SGDSDE_SANITIZE_FAST) instantiates double only, which keeps its
// compile time inside CI's budget (the float instantiations run in the release build).
#pragma once

#if defined(SGDSDE_SANITIZE_FAST)
#define SGDSDE_TEST_SCALARS double
#else
#define SGDSDE_TEST_SCALARS float, double
#endif
