using NormLab.Cli;
using NormLab.Framework;

// Before LibTorch loads: large tensor buffers are reused from the heap, and LibTorch's OpenMP workers
// sleep soon after each op instead of spinning on the cores the fused kernels run on.
NormLab.Kernels.ProcessTuning.Apply();
// NORMLAB_KERNELS=auto|native|composite picks the implementations (for comparisons; auto by default).
if (Enum.TryParse<KernelMode>(Environment.GetEnvironmentVariable("NORMLAB_KERNELS"), ignoreCase: true, out var mode))
    KernelPolicy.Default = mode;
return Cli.Run(args, Console.Out, Console.Error);
