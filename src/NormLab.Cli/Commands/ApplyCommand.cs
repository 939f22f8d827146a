using NormLab.Registry;
using static TorchSharp.torch;

namespace NormLab.Cli.Commands;

/// <summary>
/// <c>normlab apply</c>: runs one normalizer on tensors from .npy files and writes the output, the
/// gradients and the state after the step, so a NormLab layer can be checked against PyTorch or NumPy.
/// With <c>--norm</c> the input is an activation [N, C, *spatial]; with <c>--weight-norm</c> it is a raw
/// weight and the output is the effective weight.
/// </summary>
internal static class ApplyCommand
{
    public static int Run(string[] args, TextWriter stdout)
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

        var output = OutputDirectory.Open(outDir);
        using var scope = NewDisposeScope();
        var x = TensorFiles.ReadFloat(inputPath, "--input", dtype);
        var condition = condPath is null ? null : TensorFiles.Read(condPath, "--cond");
        if (condition is not null && condition.is_floating_point()) condition = condition.to(dtype);
        var target = normSpec is not null ? ApplyTarget.Normalizer(normSpec, x, condition) : ApplyTarget.Weight(weightSpec!, x);
        target.Module.train(train);
        StateFiles.Load(target.Module, states, dtype);

        var y = target.Forward();
        output.Write("y.npy", y);
        if (gradPath is not null)
        {
            var g = TensorFiles.ReadFloat(gradPath, "--grad-out", dtype);
            if (!g.shape.SequenceEqual(y.shape))
                throw new ArgumentException($"--grad-out has shape {TensorFiles.Shape(g)} but the output has shape {TensorFiles.Shape(y)}");
            (y * g).sum().backward();
            output.Write("grad_input.npy", target.Input.grad ?? zeros_like(target.Input));
            foreach (var (name, p) in target.Module.named_parameters())
                if (!ReferenceEquals(p, target.Input))
                    output.Write($"grad_{StateFiles.FileKey(name)}.npy", p.grad ?? zeros_like(p));
        }
        StateFiles.Write(output, target.Module);
        stdout.WriteLine($"apply: {target.Description} ({(train ? "train" : "eval")}, {dtype}) -> {output.Path}");
        return 0;
    }
}
