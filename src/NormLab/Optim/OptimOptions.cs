using System.Globalization;
using TorchSharp.Modules;

namespace NormLab.Optim;

/// <summary>
/// Hyper-parameters of one parameter group of a NormLab optimizer. Values live in a name → value map,
/// so every option class saves, loads and copies itself the same way and per-group options left unset
/// inherit the optimizer's defaults. Names follow PyTorch (<c>lr</c>, <c>weight_decay</c>, <c>momentum</c>, ...).
/// </summary>
/// <remarks>
/// Every NormLab optimizer has <see cref="weight_decay"/> and <see cref="gc"/> (gradient centralization,
/// Yong et al. 2020); each optimizer documents where in its update the two apply.
/// </remarks>
public abstract class OptimOptions : OptimizerOptions
{
    private readonly SortedDictionary<string, double?> _values = new(StringComparer.Ordinal);

    /// <summary>The weight-decay coefficient λ (>= 0); whether it is an L2 term or decoupled depends on the optimizer.</summary>
    public double? weight_decay { get => Real(nameof(weight_decay)); set => Set(nameof(weight_decay), value); }

    /// <summary>Gradient centralization: subtract from every gradient of rank > 1 its mean over all dims but the first.</summary>
    public bool? gc { get => Flag(nameof(gc)); set => Set(nameof(gc), value); }

    /// <summary>A real-valued option, or null when unset.</summary>
    protected double? Real(string name) => _values.TryGetValue(name, out var v) ? v : null;

    /// <summary>A boolean option (stored as 0/1), or null when unset.</summary>
    protected bool? Flag(string name) => Real(name) is { } v ? v != 0 : null;

    /// <summary>Sets a real-valued option; null unsets it.</summary>
    protected void Set(string name, double? value) => _values[name] = value;

    /// <summary>Sets a boolean option; null unsets it.</summary>
    protected void Set(string name, bool? value) => _values[name] = value is { } b ? (b ? 1 : 0) : null;

    /// <summary>Checks every value, throwing an <see cref="ArgumentException"/> whose one-line message names the option, the value and the valid range.</summary>
    /// <exception cref="ArgumentException">an option out of range.</exception>
    public virtual void Validate()
    {
        OptimChecks.NonNegative(LearningRate, "lr");
        OptimChecks.NonNegative(weight_decay, nameof(weight_decay));
    }

    /// <summary>Copies every option unset here from <paramref name="defaults"/>, including the learning rate.</summary>
    public void FillFrom(OptimOptions defaults)
    {
        LearningRate ??= defaults.LearningRate;
        foreach (var (name, value) in defaults._values)
            if (Real(name) is null) _values[name] = value;
    }

    /// <inheritdoc />
    public override void SaveStateDict(BinaryWriter writer)
    {
        base.SaveStateDict(writer);
        writer.Write(_values.Count);
        foreach (var (name, value) in _values)
        {
            writer.Write(name);
            writer.Write(value.HasValue);
            writer.Write(value ?? 0);
        }
    }

    /// <inheritdoc />
    /// <exception cref="InvalidDataException">the stream holds an option this class does not have.</exception>
    public override void LoadStateDict(BinaryReader reader)
    {
        base.LoadStateDict(reader);
        int count = reader.ReadInt32();
        for (int i = 0; i < count; i++)
        {
            string name = reader.ReadString();
            bool has = reader.ReadBoolean();
            double value = reader.ReadDouble();
            if (!_values.ContainsKey(name))
                throw new InvalidDataException($"saved optimizer options have '{name}', which {GetType().Name} does not know; valid: {string.Join(", ", _values.Keys)}");
            _values[name] = has ? value : null;
        }
    }

    /// <inheritdoc />
    public override void LoadStateDict(OptimizerOptions source)
    {
        base.LoadStateDict(source);
        if (source is not OptimOptions other || other.GetType() != GetType())
            throw new ArgumentException($"cannot load {source?.GetType().Name ?? "null"} options into {GetType().Name}");
        foreach (var (name, value) in other._values) _values[name] = value;
    }

    /// <summary>"lr=0.1, momentum=0.9, ..." for messages and logs.</summary>
    public override string ToString() =>
        string.Join(", ", _values.Select(kv => $"{kv.Key}={(kv.Value is { } v ? v.ToString("R", CultureInfo.InvariantCulture) : "unset")}")
            .Prepend($"lr={LearningRate?.ToString("R", CultureInfo.InvariantCulture) ?? "unset"}"));
}

/// <summary>Range checks for optimizer options, with one-line messages naming the option, the value and the valid range.</summary>
internal static class OptimChecks
{
    public static void NonNegative(double? value, string name)
    {
        if (value is { } v && !(double.IsFinite(v) && v >= 0))
            throw new ArgumentException($"{name} ({Format(v)}) must be a finite number >= 0", name);
    }

    public static void Positive(double? value, string name)
    {
        if (value is { } v && !(double.IsFinite(v) && v > 0))
            throw new ArgumentException($"{name} ({Format(v)}) must be a finite number > 0", name);
    }

    /// <summary>β-style coefficients: in [0, 1).</summary>
    public static void UnitInterval(double? value, string name)
    {
        if (value is { } v && !(v >= 0 && v < 1))
            throw new ArgumentException($"{name} ({Format(v)}) must be in [0, 1)", name);
    }

    public static string Format(double v) => v.ToString("R", CultureInfo.InvariantCulture).Replace("E", "e");
}
