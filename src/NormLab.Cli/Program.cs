using NormLab.Cli;
using NormLab.Framework;

// Before anything allocates: large tensor buffers are reused from the heap, not re-mapped per call.
NormLab.Kernels.MallocTuning.Apply();
// NORMLAB_KERNELS=auto|native|composite picks the implementations (for comparisons; auto by default).
if (Enum.TryParse<KernelMode>(Environment.GetEnvironmentVariable("NORMLAB_KERNELS"), ignoreCase: true, out var mode))
    KernelPolicy.Default = mode;
return Cli.Run(args, Console.Out, Console.Error);
