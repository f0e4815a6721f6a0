// sgdsde/ntk/detail/evolution_eigen.hpp — the one symmetric eigendecomposition of ntk/evolution.hpp:
// Eigen's SelfAdjointEigenSolver, or LAPACK's divide-and-conquer dsyevd/ssyevd when SGDSDE_USE_LAPACK is
// defined (link LAPACK then; ~10x faster at N = 2000 with OpenBLAS, and much less to compile).
#pragma once

#include <algorithm>
#include <type_traits>
#include <vector>

#include <Eigen/Core>
#if !defined(SGDSDE_USE_LAPACK)
#include <Eigen/Eigenvalues>
#endif

#include "sgdsde/core/types.hpp"

#if defined(SGDSDE_USE_LAPACK)
extern "C" {
void dsyevd_(const char* jobz, const char* uplo, const int* n, double* a, const int* lda, double* w, double* work,
             const int* lwork, int* iwork, const int* liwork, int* info);
void ssyevd_(const char* jobz, const char* uplo, const int* n, float* a, const int* lda, float* w, float* work,
             const int* lwork, int* iwork, const int* liwork, int* info);
}
#endif

namespace sgdsde::ntk::detail {

/// Eigenvalues (ascending) and orthonormal eigenvectors of the symmetric matrix `a` (its lower triangle is
/// read). Returns false if the solver did not converge.
template <class Scalar>
bool symmetric_eigen(const Eigen::Ref<const MatrixX<Scalar>>& a, VectorX<Scalar>& values, MatrixX<Scalar>& vectors) {
#if defined(SGDSDE_USE_LAPACK)
  if constexpr (std::is_same_v<Scalar, double> || std::is_same_v<Scalar, float>) {
    const int n = int(a.rows());
    vectors = a;
    values.resize(n);
    int info = 0, lwork = -1, liwork = -1, iwork_query = 0;
    Scalar work_query = 0;
    const char jobz = 'V', uplo = 'L';
    auto call = [&](Scalar* work, int* iwork) {
      if constexpr (std::is_same_v<Scalar, double>)
        dsyevd_(&jobz, &uplo, &n, vectors.data(), &n, values.data(), work, &lwork, iwork, &liwork, &info);
      else
        ssyevd_(&jobz, &uplo, &n, vectors.data(), &n, values.data(), work, &lwork, iwork, &liwork, &info);
    };
    call(&work_query, &iwork_query);  // workspace query
    if (info != 0) return false;
    lwork = std::max(1, int(work_query));
    liwork = std::max(1, iwork_query);
    std::vector<Scalar> work(static_cast<std::size_t>(lwork));
    std::vector<int> iwork(static_cast<std::size_t>(liwork));
    call(work.data(), iwork.data());
    return info == 0;
  } else
#endif
  {
    Eigen::SelfAdjointEigenSolver<MatrixX<Scalar>> solver(a, Eigen::ComputeEigenvectors);
    if (solver.info() != Eigen::Success) return false;
    values = solver.eigenvalues();
    vectors = solver.eigenvectors();
    return true;
  }
}

}  // namespace sgdsde::ntk::detail
