using System.Globalization;
using System.Text;
using NormLab.Framework;
using TorchSharp;
using static TorchSharp.torch;

namespace NormLab.Analysis;

/// <summary>
/// Records, while training, each monitored layer's output mean and variance, and each parameter's
/// gradient norm, weight norm and effective learning rate lr/‖W‖², as rows of a CSV file
/// (<c>step,kind,name,value</c> with kind one of activation_mean, activation_var, grad_norm,
/// weight_norm, effective_lr).
/// </summary>
/// <remarks>
/// Activations are captured by forward hooks on the named submodules (default: every normalizer),
/// reduced to two numbers at once, so no activation is kept alive. Call <see cref="Record"/> after
/// <c>backward()</c> and before the optimizer clears the gradients. Dispose to remove the hooks and
/// close the file.
/// </remarks>
public sealed class TrainingMonitor : IDisposable
{
    private readonly nn.Module _model;
    private readonly StreamWriter _csv;
    private readonly List<Action> _removeHooks = new();
    private readonly Dictionary<string, (double Mean, double Variance)> _activations = new();

    /// <summary>Starts monitoring <paramref name="model"/> into <paramref name="csvPath"/> (created or replaced).</summary>
    /// <param name="model">The model.</param>
    /// <param name="csvPath">The CSV file.</param>
    /// <param name="layers">Names of submodules to watch (as in named_modules); null means every normalizer.</param>
    /// <exception cref="ArgumentException">a layer name the model does not have.</exception>
    public TrainingMonitor(nn.Module model, string csvPath, IEnumerable<string>? layers = null)
    {
        _model = model;
        var modules = model.named_modules().Where(m => m.name.Length > 0).ToDictionary(m => m.name, m => m.module);
        var names = layers?.ToList() ?? modules.Where(m => m.Value is Normalizer or ConditionalNormalizer).Select(m => m.Key).ToList();
        foreach (var name in names)
        {
            if (!modules.TryGetValue(name, out var module))
                throw new ArgumentException($"layer '{name}' is not a submodule; the model has: {string.Join(", ", modules.Keys)}", nameof(layers));
            if (module is nn.Module<Tensor, Tensor> m)
            {
                var remover = m.register_forward_hook((_, _, output) => { Capture(name, output); return output; });
                _removeHooks.Add(remover.remove);
            }
        }
        _csv = new StreamWriter(csvPath, append: false, Encoding.UTF8);
        _csv.WriteLine("step,kind,name,value");
    }

    /// <summary>The layers being watched.</summary>
    public IReadOnlyCollection<string> Layers => _activations.Keys;

    private void Capture(string name, Tensor output)
    {
        using var _ = no_grad();
        var o = output.detach().to(ScalarType.Float64);
        _activations[name] = (o.mean().ToDouble(), o.var(unbiased: false).ToDouble());
    }

    /// <summary>Writes the rows of one step: the last captured activations and the current parameters.</summary>
    public void Record(long step, double learningRate)
    {
        string s = step.ToString(CultureInfo.InvariantCulture);
        foreach (var (name, (mean, variance)) in _activations)
        {
            Row(s, "activation_mean", name, mean);
            Row(s, "activation_var", name, variance);
        }
        using var _ = no_grad();
        foreach (var (name, p) in _model.named_parameters())
        {
            double norm = p.detach().norm().ToDouble();
            Row(s, "weight_norm", name, norm);
            Row(s, "effective_lr", name, norm > 0 ? learningRate / (norm * norm) : double.PositiveInfinity);
            if (p.grad is { } g && !g.IsInvalid) Row(s, "grad_norm", name, g.norm().ToDouble());
        }
        _csv.Flush();
    }

    private void Row(string step, string kind, string name, double value) =>
        _csv.WriteLine($"{step},{kind},{name},{value.ToString("R", CultureInfo.InvariantCulture)}");

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var remove in _removeHooks) remove();
        _removeHooks.Clear();
        _csv.Dispose();
    }
}
