using NormLab.IO;
using NormLab.Registry;
using TorchSharp;
using static TorchSharp.torch;

namespace NormLab.Cli.Commands;

/// <summary>
/// <c>normlab apply</c>: runs one normalizer on tensors from .npy files and writes the output, the
/// gradients and the state after the step, so a NormLab layer can be checked against PyTorch or NumPy.
/// </summary>
internal static class ApplyCommand
{
    public static int Run(string[] args, TextWriter stdout)
    {
        var cl = new CommandLine("apply", args, new HashSet<string>());
        string spec = cl.Require("norm");
        string inputPath = cl.Require("input");
        string outDir = cl.Require("out");
        bool train = (cl.GetChoice("mode", "train", "eval") ?? "train") == "train";
        string? gradPath = cl.Get("grad-out");
        var states = cl.GetAll("state").Select(s => cl.KeyValue("state", s)).ToList();
        var dtype = (cl.GetChoice("dtype", "float64", "float32") ?? "float64") == "float64" ? ScalarType.Float64 : ScalarType.Float32;
        string? condPath = cl.Get("cond");
        cl.EnsureAllUsed();
        bool conditional = NormRegistry.IsConditional(spec);
        if (conditional && condPath is null)
            throw new UsageException($"apply: '{spec}' is a conditional normalizer; give its condition with --cond FILE.npy");
        if (!conditional && condPath is not null)
            throw new UsageException($"apply: --cond was given but '{spec}' is not a conditional normalizer");

        var output = OutputDirectory.Open(outDir);
        using var scope = NewDisposeScope();
        var x = TensorFiles.ReadFloat(inputPath, "--input", dtype);
        if (x.dim() < 2)
            throw new ArgumentException($"--input must be [N, C, *spatial] with at least 2 dims, got shape {TensorFiles.Shape(x)}");
        var condition = condPath is null ? null : TensorFiles.Read(condPath, "--cond");
        if (condition is not null && condition.is_floating_point()) condition = condition.to(dtype);
        if (condition is not null && condition.dim() < 1)
            throw new ArgumentException($"--cond must have a batch dim, got shape {TensorFiles.Shape(condition)}");
        var module = NormRegistry.CreateAny(spec, x.shape[1..], condition?.shape[1..]);
        module.to(dtype);
        module.train(train);
        StateFiles.Load(module, states, dtype);

        x.requires_grad_(true);
        var y = module switch
        {
            nn.Module<Tensor, Tensor> plain => plain.call(x),
            nn.Module<Tensor, Tensor, Tensor> withCondition => withCondition.call(x, condition!),
            _ => throw new InvalidOperationException($"'{spec}' built an unexpected module type {module.GetType().Name}"),
        };
        output.Write("y.npy", y);
        if (gradPath is not null)
        {
            var g = TensorFiles.ReadFloat(gradPath, "--grad-out", dtype);
            if (!g.shape.SequenceEqual(y.shape))
                throw new ArgumentException($"--grad-out has shape {TensorFiles.Shape(g)} but the output has shape {TensorFiles.Shape(y)}");
            (y * g).sum().backward();
            output.Write("grad_input.npy", x.grad ?? zeros_like(x));
            foreach (var (name, p) in module.named_parameters())
                output.Write($"grad_{StateFiles.FileKey(name)}.npy", p.grad ?? zeros_like(p));
        }
        StateFiles.Write(output, module);
        stdout.WriteLine($"apply: {spec} on {TensorFiles.Shape(x)} ({(train ? "train" : "eval")}, {dtype}) -> {output.Path}");
        return 0;
    }
}
