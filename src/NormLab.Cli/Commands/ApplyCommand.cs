using NormLab.Distributed;
using NormLab.Registry;
using static TorchSharp.torch;

namespace NormLab.Cli.Commands;

/// <summary>
/// <c>normlab apply</c>: runs one normalizer on tensors from .npy files and writes the output, the
/// gradients and the state after the step, so a NormLab layer can be checked against PyTorch or NumPy.
/// With <c>--norm</c> the input is an activation [N, C, *spatial]; with <c>--weight-norm</c> it is a raw
/// weight and the output is the effective weight.
/// </summary>
/// <remarks>
/// Under <c>mpirun -np P</c> (with <c>--norm</c>), <c>--input</c>, <c>--grad-out</c> and <c>--cond</c> hold the
/// global batch; each rank runs its contiguous shard along dim 0 (<see cref="Shards"/>) with rank 0's
/// initial state, and rank 0 writes the gathered <c>y.npy</c> and <c>grad_input.npy</c>, the parameter
/// gradients summed over the ranks, and its state (with <c>sync=true</c>, the same on every rank).
/// </remarks>
internal static class ApplyCommand
{
    public static int Run(string[] args, TextWriter stdout)
    {
        var world = Communicator.World;
        return DistributedRun.Guard(world, "apply", () => Run(args, stdout, world));
    }

    private static int Run(string[] args, TextWriter stdout, Communicator world)
    {
        var cl = new CommandLine("apply", args, new HashSet<string>());
        string? normSpec = cl.Get("norm");
        string? weightSpec = cl.Get("weight-norm");
        string inputPath = cl.Require("input");
        string outDir = cl.Require("out");
        bool train = (cl.GetChoice("mode", "train", "eval") ?? "train") == "train";
        string? gradPath = cl.Get("grad-out");
        var states = cl.GetAll("state").Select(s => cl.KeyValue("state", s)).ToList();
        var dtype = (cl.GetChoice("dtype", "float64", "float32") ?? "float64") == "float64" ? ScalarType.Float64 : ScalarType.Float32;
        string? condPath = cl.Get("cond");
        cl.EnsureAllUsed();
        if ((normSpec is null) == (weightSpec is null))
            throw new UsageException("apply: give exactly one of --norm SPEC (an activation input) and --weight-norm SPEC (a raw weight input)");
        bool conditional = normSpec is not null && NormRegistry.IsConditional(normSpec);
        if (conditional && condPath is null)
            throw new UsageException($"apply: '{normSpec}' is a conditional normalizer; give its condition with --cond FILE.npy");
        if (!conditional && condPath is not null)
            throw new UsageException($"apply: --cond was given but '{normSpec ?? weightSpec}' is not a conditional normalizer");
        if (weightSpec is not null && world.Size > 1)
            throw new UsageException($"apply: --weight-norm runs in one process; under mpirun (here {world.Size} processes) only --norm shards its input");

        var output = world.IsRoot ? OutputDirectory.Open(outDir) : null;
        using var scope = NewDisposeScope();
        var x = TensorFiles.ReadFloat(inputPath, "--input", dtype);
        var condition = condPath is null ? null : TensorFiles.Read(condPath, "--cond");
        if (condition is not null && condition.is_floating_point()) condition = condition.to(dtype);
        var shard = Shard.For(world, x, condition);
        var target = normSpec is not null ? ApplyTarget.Normalizer(normSpec, shard.Slice(x), condition is null ? null : shard.Slice(condition)) : ApplyTarget.Weight(weightSpec!, x);
        target.Module.train(train);
        StateFiles.Load(target.Module, states, dtype);
        if (world.Size > 1) new DataParallel(target.Module, world).BroadcastState();

        var y = target.Forward();
        var fullY = TensorCollectives.Gather(y.detach(), world);
        output?.Write("y.npy", fullY);
        if (gradPath is not null)
        {
            var g = TensorFiles.ReadFloat(gradPath, "--grad-out", dtype);
            if (!g.shape.SequenceEqual(fullY.shape))
                throw new ArgumentException($"--grad-out has shape {TensorFiles.Shape(g)} but the output has shape {TensorFiles.Shape(fullY)}");
            (y * (world.Size > 1 ? shard.Slice(g) : g)).sum().backward();
            var gradInput = TensorCollectives.Gather(target.Input.grad ?? zeros_like(target.Input), world);
            output?.Write("grad_input.npy", gradInput);
            foreach (var (name, p) in target.Module.named_parameters())
                if (!ReferenceEquals(p, target.Input))
                {
                    var grad = TensorCollectives.SumNoGrad(p.grad ?? zeros_like(p), world, inFloat64: false);
                    output?.Write($"grad_{StateFiles.FileKey(name)}.npy", grad);
                }
        }
        if (output is null) return 0;
        StateFiles.Write(output, target.Module);
        string description = world.Size > 1 ? $"{normSpec} on {TensorFiles.Shape(x)}, {world.Size} processes" : target.Description;
        stdout.WriteLine($"apply: {description} ({(train ? "train" : "eval")}, {dtype}) -> {output.Path}");
        return 0;
    }

    /// <summary>This rank's contiguous part of the global batch along dim 0 (all of it in a single process).</summary>
    private readonly record struct Shard(long Offset, long Length, bool Whole)
    {
        public static Shard For(Communicator world, Tensor x, Tensor? condition)
        {
            if (world.Size == 1) return new Shard(0, x.shape[0], true);
            if (x.dim() < 1 || x.shape[0] < world.Size)
                throw new ArgumentException($"--input has shape {TensorFiles.Shape(x)}: {world.Size} processes need a batch of at least {world.Size} samples (one per process)");
            if (condition is not null && (condition.dim() < 1 || condition.shape[0] != x.shape[0]))
                throw new ArgumentException($"--cond has shape {TensorFiles.Shape(condition)}; under mpirun it must have the input's batch size {x.shape[0]}");
            var (offset, length) = Shards.Of(x.shape[0], world);
            return new Shard(offset, length, false);
        }

        public Tensor Slice(Tensor t) => Whole ? t : t.narrow(0, Offset, Length).clone();
    }
}
