namespace NormLab.Framework;

/// <summary>
/// A part of a normalizer (an operation or a recovery) that may own state: parameters (SN's mixing
/// logits, γ and β), buffers or submodules (a gating network). The state is registered on the owning
/// module when the part is attached, and looked up by name, so state-dict keys stay flat.
/// </summary>
public abstract class NormPart
{
    private ModuleState? _state;

    /// <summary>Short name, for messages and the registry.</summary>
    public abstract string Name { get; }

    /// <summary>The owner's state, available after <see cref="Attach"/>.</summary>
    protected ModuleState State => _state ?? throw new InvalidOperationException($"'{Name}' is not attached to a module");

    /// <summary>Binds the part to its owner and registers its state there.</summary>
    /// <exception cref="InvalidOperationException">the part is already attached to a module.</exception>
    public void Attach(ModuleState state)
    {
        if (_state is not null)
            throw new InvalidOperationException($"'{Name}' is already attached to a module; create one per layer");
        _state = state;
        Register(state);
    }

    /// <summary>Registers the part's state on the owner. Parts without state do nothing.</summary>
    protected virtual void Register(ModuleState state) { }
}
