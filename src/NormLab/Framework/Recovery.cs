using static TorchSharp.torch;

namespace NormLab.Framework;

/// <summary>
/// Normalization representation recovery (NRR, survey §3.3): how representation power is restored
/// after normalization (identity, affine γ·x̂ + β, and the conditional forms).
/// </summary>
/// <remarks>
/// A recovery acts on the normalized tensor in the input's own shape, so its parameters follow the
/// input's layout (per channel, or elementwise over the trailing dims) whatever the area was.
/// A recovery belongs to one module: <see cref="Attach"/> registers its state there.
/// </remarks>
public abstract class Recovery
{
    private ModuleState? _state;

    /// <summary>Short name, for messages and the registry.</summary>
    public abstract string Name { get; }

    /// <summary>The owner's state, available after <see cref="Attach"/>.</summary>
    protected ModuleState State => _state ?? throw new InvalidOperationException($"recovery '{Name}' is not attached to a module");

    /// <summary>Binds the recovery to its owner and registers its parameters there.</summary>
    /// <exception cref="InvalidOperationException">the recovery is already attached to a module.</exception>
    public void Attach(ModuleState state)
    {
        if (_state is not null)
            throw new InvalidOperationException($"recovery '{Name}' is already attached to a module; create one per layer");
        _state = state;
        Register(state);
    }

    /// <summary>Registers the recovery's parameters on the owner.</summary>
    protected virtual void Register(ModuleState state) { }

    /// <summary>Restores representation: maps the normalized tensor (input layout) to the output.</summary>
    public abstract Tensor Apply(Tensor normalized);
}
