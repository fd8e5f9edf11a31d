"""Shared by the estimator test files: scikit-learn checks expected to fail."""


def minibatch_expected_failures(est):
    """Sample-weight equivalence cannot hold for true minibatches (batch_size
    below the checks' data sizes); scikit-learn expects the same of its SGD
    estimators."""
    if est.batch_size < 100:
        reason = ("minibatch SGD visits rows in random batches, so weighting a row by 2 "
                  "is not the same trajectory as repeating it (scikit-learn expects this "
                  "check to fail for its SGD estimators too)")
        return {"check_sample_weight_equivalence_on_dense_data": reason,
                "check_sample_weight_equivalence_on_sparse_data": reason}
    return {}
