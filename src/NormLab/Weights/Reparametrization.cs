using System.Reflection;
using System.Runtime.CompilerServices;
using NormLab.Framework;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace NormLab.Weights;

/// <summary>
/// Applies and removes weight normalization on any module whose weight is a registered parameter
/// (TorchSharp's Linear, Conv1d/2d/3d, ConvTranspose, or a custom module), the way PyTorch's
/// <c>torch.nn.utils.weight_norm</c> / <c>spectral_norm</c> do: the parameter is replaced by the method's
/// parameters, and a forward pre-hook recomputes the effective weight from them before every forward.
/// </summary>
/// <remarks>
/// <para>Mechanism. Apply unregisters the parameter <c>name</c>, registers it again as
/// <c>{name}_{RawSuffix}</c> plus the method's state, and adds hooks that run in <c>module.call</c>
/// (which <c>nn.Sequential</c> uses; <c>forward</c> called directly runs no hooks, as in PyTorch). The
/// pre-hook computes the effective weight and installs it where the module reads it: in every field
/// that held the original parameter (TorchSharp's built-in layers read <c>_weight</c>), or, for
/// modules that look their weight up by name, as a parameter registered for the duration of the call.
/// Between forwards the module's <c>weight</c> is the last effective weight (with its graph), as
/// PyTorch's plain attribute is; it belongs to the mechanism and is disposed at the next forward (clone
/// it to keep it; graphs built from it are unaffected). <c>parameters()</c>, optimizers and
/// <c>state_dict</c> see the method's parameters and buffers (e.g. <c>weight_g</c>, <c>weight_v</c>),
/// never a stale weight.</para>
/// <para>Move first. TorchSharp's Linear and convolutions override <c>to()</c>/<c>cuda()</c> to convert only
/// their <c>weight</c> and <c>bias</c>: they would leave the method's state behind and register a
/// <c>weight</c> again. Move (or cast) such modules before applying; the next forward after such a move
/// throws a one-line <see cref="InvalidOperationException"/> rather than train the wrong tensors.
/// Modules that use TorchSharp's generic <c>to()</c> (custom modules) move the method's state too.</para>
/// </remarks>
public static class Reparametrization
{
    private static readonly ConditionalWeakTable<nn.Module, Dictionary<string, Applied>> Table = new();

    /// <summary>Reparametrizes <paramref name="module"/>'s parameter <paramref name="name"/> with <paramref name="method"/>.</summary>
    /// <param name="module">A module whose <paramref name="name"/> is a registered parameter of its own.</param>
    /// <param name="method">The method; it keeps no tensors, so one instance may serve several modules.</param>
    /// <param name="name">The parameter to reparametrize. Default "weight".</param>
    /// <returns>The same module.</returns>
    /// <exception cref="ArgumentException">the module has no such parameter, it is already reparametrized,
    /// the method rejects its shape (e.g. <c>dim</c> out of range), or a state name is taken.</exception>
    public static T Apply<T>(T module, WeightNormalizer method, string name = "weight") where T : nn.Module
    {
        ArgumentNullException.ThrowIfNull(module);
        ArgumentNullException.ThrowIfNull(method);
        if (string.IsNullOrEmpty(name) || name.Contains('.'))
            throw new ArgumentException($"name ('{name}') must be the name of one of the module's own parameters, without dots", nameof(name));
        lock (Table)
        {
            var applied = Table.GetOrCreateValue(module);
            if (applied.TryGetValue(name, out var existing))
                throw new ArgumentException($"{module.GetName()}: '{name}' is already reparametrized by {existing.Method.Name}; call Reparametrization.Remove before applying {method.Name}", nameof(name));
            var original = ModuleAccess.OwnParameter(module, name)
                ?? throw new ArgumentException($"{module.GetName()} has no parameter '{name}'; its parameters: {ParameterList(module)}", nameof(name));
            if (original.numel() == 0)
                throw new ArgumentException($"{module.GetName()}: '{name}' of shape {Checks.Shape(original.shape)} is empty; {method.Name} needs a weight with at least one element", nameof(name));
            method.Validate(module, original.shape);
            applied[name] = new Applied(module, name, method, original);
        }
        return module;
    }

    /// <summary>
    /// Removes the reparametrization of <paramref name="name"/>: folds the current effective weight
    /// (without a power-iteration step) back into a plain parameter <paramref name="name"/> and
    /// unregisters the method's parameters, buffers and hooks.
    /// </summary>
    /// <returns>The same module.</returns>
    /// <exception cref="ArgumentException">that parameter of the module is not reparametrized.</exception>
    public static T Remove<T>(T module, string name = "weight") where T : nn.Module
    {
        ArgumentNullException.ThrowIfNull(module);
        lock (Table)
        {
            if (!Table.TryGetValue(module, out var applied) || !applied.Remove(name, out var a))
            {
                string others = applied is { Count: > 0 } ? $" (reparametrized: {string.Join(", ", applied.Keys)})" : "";
                throw new ArgumentException($"{module.GetName()}: '{name}' is not reparametrized, so there is nothing to remove{others}", nameof(name));
            }
            a.Remove();
        }
        return module;
    }

    /// <summary>The method reparametrizing <paramref name="name"/> of the module, or null.</summary>
    public static WeightNormalizer? Find(nn.Module module, string name = "weight")
    {
        lock (Table)
            return Table.TryGetValue(module, out var applied) && applied.TryGetValue(name, out var a) ? a.Method : null;
    }

    private static string ParameterList(nn.Module module)
    {
        var names = module.named_parameters(recurse: false).Select(p => p.name).ToList();
        return names.Count == 0 ? "none" : string.Join(", ", names);
    }

    /// <summary>One applied reparametrization: its state, where the weight is installed, and its hooks.</summary>
    private sealed class Applied
    {
        private readonly nn.Module _module;
        private readonly string _name;
        private readonly WeightState _state;
        private readonly FieldInfo[] _fields;
        private readonly bool _requiresGrad;
        private readonly Action _removeHooks;
        private Parameter? _effective;

        public Applied(nn.Module module, string name, WeightNormalizer method, Parameter original)
        {
            _module = module;
            _name = name;
            Method = method;
            _requiresGrad = original.requires_grad;
            // Registration by reflection would otherwise run later (when a parent registers the module)
            // and register the weight field again.
            ModuleAccess.RegisterComponents(module);
            _fields = ModuleAccess.FieldsHolding(module, original);
            _state = new WeightState(module, name, method.Name);
            _removeHooks = ModuleAccess.AddHooks(module, Before, After);
            int position = ModuleAccess.ParameterIndex(module, name);
            ModuleAccess.RemoveParameter(module, name);
            try
            {
                method.Initialize(_state, original);
                _state.Adopt(method.RawSuffix, original);
                using (no_grad()) Install(Compute(training: false), register: false);
            }
            catch
            {
                _removeHooks();
                _state.Unregister();
                ModuleAccess.RemoveParameter(module, name);
                ModuleAccess.InsertParameter(module, position, name, original);
                foreach (var f in _fields) f.SetValue(module, original);
                throw;
            }
        }

        public WeightNormalizer Method { get; }

        private bool Registers => _fields.Length == 0;

        private void Before(nn.Module _)
        {
            var registered = ModuleAccess.OwnParameter(_module, _name);
            if (registered is not null && !ReferenceEquals(registered, _effective))
                throw new InvalidOperationException(
                    $"{_module.GetName()}: a parameter '{_name}' was registered again after {Method.Name} reparametrized it (TorchSharp's Linear and convolutions do this in to()/cuda(), converting only weight and bias); move the module before applying {Method.Name}, or Remove, move and apply again");
            Install(Compute(_module.training), register: Registers);
        }

        private void After(nn.Module _)
        {
            if (Registers) ModuleAccess.RemoveParameter(_module, _name);
        }

        private Parameter Compute(bool training)
        {
            using var scope = NewDisposeScope();
            var w = Method.Compute(_state, training);
            var p = new Parameter(w, requires_grad: w.requires_grad);
            p.DetachFromDisposeScope();
            return p;
        }

        /// <summary>
        /// Puts the weight where the module reads it (its fields; or, with <paramref name="register"/>, a
        /// parameter registered until the forward hook) and disposes the previous one this mechanism made.
        /// </summary>
        private void Install(Parameter weight, bool register)
        {
            foreach (var f in _fields) f.SetValue(_module, weight);
            if (register) ModuleAccess.SetParameter(_module, _name, weight);
            var previous = _effective;
            _effective = weight;
            previous?.Dispose();
        }

        public void Remove()
        {
            Parameter folded;
            using (no_grad())
            {
                using var scope = NewDisposeScope();
                folded = new Parameter(Method.Compute(_state, training: false).detach().clone(), requires_grad: _requiresGrad);
                folded.DetachFromDisposeScope();
            }
            _removeHooks();
            _state.Unregister();
            ModuleAccess.RemoveParameter(_module, _name);
            ModuleAccess.SetParameter(_module, _name, folded);
            foreach (var f in _fields) f.SetValue(_module, folded);
            _effective?.Dispose();
            _effective = null;
        }
    }
}
