using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace NormLab.Optim;

/// <summary>How a state tensor starts: as zeros like the parameter, or absent until the first step fills it.</summary>
public enum StateInit
{
    /// <summary>Zeros shaped like the parameter (Adam's <c>exp_avg</c>, <c>exp_avg_sq</c>).</summary>
    Zeros,
    /// <summary>Absent (null) until the first step sets it (SGD's <c>momentum_buffer</c> = the first update).</summary>
    Lazy,
}

/// <summary>A named state tensor an optimizer keeps per parameter, with PyTorch's key name.</summary>
/// <param name="Name">The key (<c>momentum_buffer</c>, <c>exp_avg</c>, <c>exp_avg_sq</c>).</param>
/// <param name="Init">How it starts.</param>
public sealed record StateKey(string Name, StateInit Init);

/// <summary>
/// The state an optimizer keeps for one parameter: named tensors shaped like the parameter and, for
/// optimizers with bias correction, the step count <c>step</c> (the number of steps taken; the next
/// step is <c>step + 1</c>). Keys follow PyTorch's names. State tensors are owned by the state: they
/// live outside every dispose scope and are released by <see cref="Dispose()"/>.
/// </summary>
public sealed class ParameterState : OptimizerState, IDisposable
{
    private readonly StateKey[] _keys;
    private readonly Tensor?[] _values;

    /// <summary>Creates the state of <paramref name="parameter"/> with the given keys, initialized.</summary>
    public ParameterState(Parameter parameter, bool tracksStep, IReadOnlyList<StateKey> keys) : base(parameter)
    {
        TracksStep = tracksStep;
        _keys = keys.ToArray();
        _values = new Tensor?[_keys.Length];
        Initialize(null!);
    }

    /// <summary>The number of steps taken (PyTorch's <c>step</c>); 0 for optimizers that do not count steps.</summary>
    public long step { get; set; }

    /// <summary>Whether the optimizer counts steps (it uses bias corrections).</summary>
    public bool TracksStep { get; }

    /// <summary>The parameter this state belongs to.</summary>
    public Parameter Parameter => _parameter;

    /// <summary>The tensor keys, in order.</summary>
    public IReadOnlyList<string> Keys => _keys.Select(k => k.Name).ToArray();

    /// <summary>
    /// A state tensor by key: null while a lazy entry is still absent. Setting stores the tensor itself
    /// (detached from any dispose scope) and disposes the one it replaces.
    /// </summary>
    /// <exception cref="KeyNotFoundException">an unknown key; the message lists the valid ones.</exception>
    public Tensor? this[string key]
    {
        get => _values[IndexOf(key)];
        set
        {
            int i = IndexOf(key);
            if (ReferenceEquals(_values[i], value)) return;
            _values[i]?.Dispose();
            _values[i] = value?.DetachFromDisposeScope();
        }
    }

    /// <summary>Whether <paramref name="key"/> is one of this state's tensor keys.</summary>
    public bool Has(string key) => Array.FindIndex(_keys, k => k.Name == key) >= 0;

    /// <summary>Copies <paramref name="value"/> into the state entry <paramref name="key"/> (creating it if absent), in the parameter's dtype and device.</summary>
    /// <exception cref="ArgumentException">the shape differs from the parameter's.</exception>
    public void Load(string key, Tensor value)
    {
        if (!value.shape.SequenceEqual(_parameter.shape))
            throw new ArgumentException($"state '{key}' has shape [{string.Join(", ", value.shape)}] but the parameter has shape [{string.Join(", ", _parameter.shape)}]");
        using var _ = no_grad();
        this[key] = value.to(_parameter.dtype, _parameter.device, copy: true);
    }

    private int IndexOf(string key)
    {
        int i = Array.FindIndex(_keys, k => k.Name == key);
        return i >= 0 ? i : throw new KeyNotFoundException($"unknown optimizer state key '{key}'; valid: {string.Join(", ", Keys.Concat(TracksStep ? new[] { "step" } : Array.Empty<string>()))}");
    }

    /// <inheritdoc />
    public override void Initialize(OptimizerOptions options)
    {
        step = 0;
        for (int i = 0; i < _keys.Length; i++)
            this[_keys[i].Name] = _keys[i].Init == StateInit.Zeros ? zeros_like(_parameter).detach() : null;
    }

    /// <inheritdoc />
    public override void SaveStateDict(BinaryWriter writer)
    {
        writer.Write(step);
        foreach (var t in _values) SaveConditionalStateTensor(writer, t);
    }

    /// <inheritdoc />
    public override void LoadStateDict(BinaryReader reader)
    {
        step = reader.ReadInt64();
        for (int i = 0; i < _values.Length; i++)
        {
            if (!reader.ReadBoolean())
            {
                this[_keys[i].Name] = null;
                continue;
            }
            Tensor? loaded = null;
            TensorExtensionMethods.Load(ref loaded, reader);
            this[_keys[i].Name] = loaded!.to(_parameter.device, disposeAfter: true);
        }
    }

    /// <inheritdoc />
    public override void LoadStateDict(OptimizerState source)
    {
        if (source is not ParameterState other || !other._keys.SequenceEqual(_keys))
            throw new ArgumentException($"cannot load optimizer state with keys [{string.Join(", ", (source as ParameterState)?.Keys ?? Array.Empty<string>())}] into state with keys [{string.Join(", ", Keys)}]");
        step = other.step;
        for (int i = 0; i < _values.Length; i++)
            this[_keys[i].Name] = other._values[i]?.to(_parameter.device, copy: true);
    }

    /// <inheritdoc />
    public override bool ApproximatelyEquals(OptimizerState other) =>
        other is ParameterState o && o.step == step && o._keys.SequenceEqual(_keys)
        && _values.Zip(o._values).All(p => p.First is null ? p.Second is null : p.Second is not null && p.First.allclose(p.Second));

    /// <inheritdoc />
    public override void to(Device device)
    {
        for (int i = 0; i < _values.Length; i++)
            if (_values[i] is { } t) this[_keys[i].Name] = t.to(device);
    }

    /// <summary>Releases the state tensors.</summary>
    public void Dispose()
    {
        for (int i = 0; i < _values.Length; i++)
        {
            _values[i]?.Dispose();
            _values[i] = null;
        }
    }
}
