using NormLab.Cli;

// Before anything allocates: large tensor buffers are reused from the heap, not re-mapped per call.
NormLab.Kernels.MallocTuning.Apply();
return Cli.Run(args, Console.Out, Console.Error);
