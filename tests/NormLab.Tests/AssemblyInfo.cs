// Tests share LibTorch's process-wide state (thread pool, default dtype); run them one at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
