using TorchSharp;
using static TorchSharp.torch;

namespace NormLab.Framework;

/// <summary>
/// Base of every NormLab module with one tensor input. State (parameters, buffers, submodules) is
/// registered explicitly by name through <see cref="ModuleState"/>, never discovered from fields, so
/// parts look it up by name and stay valid after <c>module.to(...)</c> replaces the tensors.
/// </summary>
public abstract class NormModule : nn.Module<Tensor, Tensor>
{
    /// <summary>Creates a module with the given TorchSharp module name.</summary>
    protected NormModule(string name) : base(name) => State = new ModuleState(this);

    /// <summary>Named access to this module's own parameters, buffers and submodules.</summary>
    internal ModuleState State { get; }

    /// <inheritdoc />
    protected override void RegisterComponents() { }
}

/// <summary>
/// Base of NormLab modules that take an input and a condition (style features, segmentation map,
/// class ids or a conditioning vector).
/// </summary>
public abstract class ConditionalNormModule : nn.Module<Tensor, Tensor, Tensor>
{
    /// <summary>Creates a module with the given TorchSharp module name.</summary>
    protected ConditionalNormModule(string name) : base(name) => State = new ModuleState(this);

    /// <summary>Named access to this module's own parameters, buffers and submodules.</summary>
    internal ModuleState State { get; }

    /// <inheritdoc />
    protected override void RegisterComponents() { }
}
