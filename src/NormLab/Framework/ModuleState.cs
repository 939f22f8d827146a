using TorchSharp;
using static TorchSharp.torch;

namespace NormLab.Framework;

/// <summary>
/// Registers and looks up a module's state by name. Parts of a normalizer (recoveries, running
/// estimates) hold this handle rather than tensors: <c>module.to(dtype)</c> replaces parameter and
/// buffer objects, so a stored tensor reference would go stale, while a lookup by name never does.
/// Names are flat, so state-dict keys are PyTorch's (<c>weight</c>, <c>running_mean</c>, ...).
/// </summary>
public sealed class ModuleState
{
    private readonly nn.Module _owner;

    /// <summary>Wraps the module that owns the state.</summary>
    public ModuleState(nn.Module owner) => _owner = owner;

    /// <summary>Whether the owner is in training mode.</summary>
    public bool Training => _owner.training;

    /// <summary>Registers a trainable parameter initialized from <paramref name="initial"/>.</summary>
    /// <remarks>State outlives any dispose scope the module is built in.</remarks>
    public void AddParameter(string name, Tensor initial)
    {
        var p = new TorchSharp.Modules.Parameter(initial.detach(), requires_grad: true);
        p.DetachFromDisposeScope();
        _owner.register_parameter(name, p);
    }

    /// <summary>Registers a buffer; persistent buffers appear in the state dict. It outlives any dispose scope the module is built in.</summary>
    public void AddBuffer(string name, Tensor initial, bool persistent = true) =>
        _owner.register_buffer(name, initial.DetachFromDisposeScope(), persistent);

    /// <summary>Registers a submodule; its state appears under <c>name.</c> in the state dict.</summary>
    public void AddChild(string name, nn.Module module) => _owner.register_module(name, module);

    /// <summary>Whether the owner has a parameter of that name.</summary>
    public bool HasParameter(string name) => _owner.has_parameter(name);

    /// <summary>The current tensor of a parameter registered with <see cref="AddParameter"/>.</summary>
    public Tensor Parameter(string name) => _owner.get_parameter(name)
        ?? throw new InvalidOperationException($"{_owner.GetName()} has no parameter '{name}'.");

    /// <summary>The current tensor of a buffer registered with <see cref="AddBuffer"/>.</summary>
    public Tensor Buffer(string name) => _owner.get_buffer(name)
        ?? throw new InvalidOperationException($"{_owner.GetName()} has no buffer '{name}'.");

    /// <summary>A submodule registered with <see cref="AddChild"/>.</summary>
    public nn.Module Child(string name) =>
        _owner.named_children().FirstOrDefault(c => c.name == name).module
        ?? throw new InvalidOperationException($"{_owner.GetName()} has no submodule '{name}'.");
}
