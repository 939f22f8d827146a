// Tests share LibTorch's process-wide state (thread pool, default dtype); run them one at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace NormLab.Tests
{
    internal static class TestSetup
    {
        /// <summary>
        /// One LibTorch thread: the tests use small float64 tensors, for which intra-op threads cost more
        /// than they save, and a shared CI machine makes that worse.
        /// </summary>
        [System.Runtime.CompilerServices.ModuleInitializer]
        internal static void SingleThreaded() => TorchSharp.torch.set_num_threads(1);
    }
}
