using NormLab.Optim;
using NormLab.Registry;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace NormLab.Cli.Commands;

/// <summary>
/// <c>normlab step</c>: applies one optimizer step to parameters and gradients from .npy files, starting
/// from given optimizer state, and writes the updated parameters and the state after the step, so a
/// NormLab optimizer can be checked against PyTorch, timm or a formula.
/// </summary>
/// <remarks>
/// Each parameter keeps its file's float dtype; its gradient and state are converted to it. With
/// <c>--step-count T</c> the loaded state counts as T − 1 steps taken, so bias corrections use t = T;
/// without it, T = 1 (or the <c>NAME.step</c> state when given). Optimizers without a step count (SGD,
/// LARS) ignore it: their first step is the one without a <c>momentum_buffer</c>. A parameter without
/// <c>--grad</c> is skipped by the step, as PyTorch skips parameters whose grad is None.
/// </remarks>
internal static class StepCommand
{
    private const string StepKey = "step";

    public static int Run(string[] args, TextWriter stdout)
    {
        var cl = new CommandLine("step", args, new HashSet<string>());
        string spec = cl.Require("optim");
        var paramArgs = cl.GetAll("param").Select(s => cl.KeyValue("param", s)).ToList();
        var gradArgs = cl.GetAll("grad").Select(s => cl.KeyValue("grad", s)).ToList();
        var stateArgs = cl.GetAll("state").Select(s => cl.KeyValue("state", s)).ToList();
        long? stepCount = cl.GetLong("step-count");
        string outDir = cl.Require("out");
        cl.EnsureAllUsed();
        if (paramArgs.Count == 0) throw new UsageException("step: give at least one --param NAME=P.npy");
        if (stepCount is < 1) throw new ArgumentException($"--step-count ({stepCount}) must be at least 1");

        var output = OutputDirectory.Open(outDir);
        using var scope = NewDisposeScope();
        var parameters = ReadParameters(paramArgs);
        ReadGradients(gradArgs, parameters);
        using var optimizer = OptimizerRegistry.Create(spec, parameters.Values);
        LoadState(stateArgs, parameters, optimizer, stepCount is not null);
        if (stepCount is { } t)
            foreach (var p in parameters.Values) optimizer.StateOf(p).step = t - 1;

        optimizer.step();

        foreach (var (name, p) in parameters)
        {
            output.Write($"{name}.npy", p.detach());
            var state = optimizer.StateOf(p);
            foreach (var key in state.Keys)
                if (state[key] is { } value) output.Write($"{name}.{key}.npy", value);
            if (state.TracksStep) output.Write($"{name}.{StepKey}.npy", tensor(state.step));
        }
        stdout.WriteLine($"step: {spec} on {parameters.Count} parameter(s) ({string.Join(", ", parameters.Keys)}) -> {output.Path}");
        return 0;
    }

    private static Dictionary<string, Parameter> ReadParameters(IEnumerable<(string Name, string File)> entries)
    {
        var parameters = new Dictionary<string, Parameter>(StringComparer.Ordinal);
        foreach (var (name, file) in entries)
        {
            if (name is "." or ".." || name.IndexOfAny(new[] { '/', '\\' }) >= 0 || Path.GetInvalidFileNameChars().Any(name.Contains))
                throw new ArgumentException($"--param: name '{name}' cannot be a file name; use letters, digits, '_', '-' and '.'");
            if (parameters.ContainsKey(name))
                throw new ArgumentException($"--param: parameter '{name}' is given twice");
            var value = ReadFloat(file, $"--param {name}");
            parameters[name] = new Parameter(value, requires_grad: true);
        }
        return parameters;
    }

    private static void ReadGradients(IEnumerable<(string Name, string File)> entries, Dictionary<string, Parameter> parameters)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, file) in entries)
        {
            var p = Find(parameters, name, "--grad");
            if (!seen.Add(name)) throw new ArgumentException($"--grad: parameter '{name}' has two gradients");
            var g = ReadFloat(file, $"--grad {name}");
            if (!g.shape.SequenceEqual(p.shape))
                throw new ArgumentException($"--grad {name}: {file} has shape {TensorFiles.Shape(g)} but parameter '{name}' has shape {TensorFiles.Shape(p)}");
            p.grad = g.to(p.dtype);
        }
    }

    private static void LoadState(IEnumerable<(string Target, string File)> entries, Dictionary<string, Parameter> parameters,
        NormOptimizer optimizer, bool stepCountGiven)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (target, file) in entries)
        {
            int dot = target.LastIndexOf('.');
            if (dot <= 0 || dot == target.Length - 1)
                throw new UsageException($"step: --state expects NAME.KEY=FILE (KEY a state key such as exp_avg), got '{target}'");
            string name = target[..dot], key = target[(dot + 1)..];
            var state = optimizer.StateOf(Find(parameters, name, "--state"));
            var valid = state.Keys.Concat(state.TracksStep ? new[] { StepKey } : Array.Empty<string>()).ToList();
            if (!valid.Contains(key))
                throw new ArgumentException($"--state {target}: unknown state key '{key}' for {optimizer.GetType().Name}; valid: {(valid.Count == 0 ? "none (it keeps no state)" : string.Join(", ", valid))}");
            if (!seen.Add(target)) throw new ArgumentException($"--state {target} is given twice");
            var value = TensorFiles.Read(file, $"--state {target}");
            if (key == StepKey)
                state.step = StepValue(value, target, file, stepCountGiven);
            else if (!value.is_floating_point())
                throw new ArgumentException($"--state {target}: expected a float32 or float64 array, got {value.dtype}");
            else if (!value.shape.SequenceEqual(state.Parameter.shape))
                throw new ArgumentException($"--state {target}: {file} has shape {TensorFiles.Shape(value)} but parameter '{name}' has shape {TensorFiles.Shape(state.Parameter)}");
            else
                state.Load(key, value);
        }
    }

    private static long StepValue(Tensor value, string target, string file, bool stepCountGiven)
    {
        if (stepCountGiven)
            throw new ArgumentException($"--state {target} and --step-count both set the step count; give one");
        double v = value.numel() == 1 ? value.to(ScalarType.Float64).item<double>() : double.NaN;
        if (!(v >= 0 && v == Math.Floor(v) && v < 1e15))
            throw new ArgumentException($"--state {target}: {file} must hold one non-negative integer (the steps taken), got shape {TensorFiles.Shape(value)}{(value.numel() == 1 ? $" value {v}" : "")}");
        return (long)v;
    }

    private static Parameter Find(Dictionary<string, Parameter> parameters, string name, string option) =>
        parameters.TryGetValue(name, out var p) ? p
            : throw new ArgumentException($"{option}: unknown parameter '{name}'; parameters: {string.Join(", ", parameters.Keys)}");

    private static Tensor ReadFloat(string file, string option)
    {
        var t = TensorFiles.Read(file, option);
        if (!t.is_floating_point())
            throw new ArgumentException($"{option} {file}: expected a float32 or float64 array, got {t.dtype}");
        return t;
    }
}
