using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace NormLab.Weights;

/// <summary>
/// Named access to the state of one reparametrized weight. Everything a method registers lives on the
/// module itself under <c>{name}_{suffix}</c> (<c>weight_g</c>, <c>weight_v</c>, <c>weight_orig</c>,
/// <c>weight_u</c>), so state dicts carry PyTorch's keys, and it is looked up by name on every forward:
/// <c>module.to(...)</c> may replace the tensor objects.
/// </summary>
public sealed class WeightState
{
    private readonly List<string> _parameters = new();
    private readonly List<string> _buffers = new();

    internal WeightState(nn.Module module, string name, string method)
    {
        Module = module;
        Name = name;
        Method = method;
    }

    /// <summary>The module whose weight is reparametrized.</summary>
    public nn.Module Module { get; }

    /// <summary>The name of the reparametrized parameter, e.g. <c>weight</c>.</summary>
    public string Name { get; }

    /// <summary>The method's registry name, for messages.</summary>
    public string Method { get; }

    /// <summary>The state-dict key of a suffix: <c>{Name}_{suffix}</c>.</summary>
    public string Key(string suffix) => $"{Name}_{suffix}";

    /// <summary>Every parameter and buffer key this weight's method registered.</summary>
    public IReadOnlyList<string> Keys => _parameters.Concat(_buffers).ToList();

    /// <summary>Registers a trainable parameter <c>{Name}_{suffix}</c> initialized from a copy of <paramref name="initial"/>.</summary>
    /// <exception cref="ArgumentException">the module already has state of that name.</exception>
    public void AddParameter(string suffix, Tensor initial)
    {
        using var _ = no_grad();
        var parameter = new Parameter(initial.detach().clone(), requires_grad: true);
        parameter.DetachFromDisposeScope(); // it lives as long as the module, not the caller's scope
        Adopt(suffix, parameter);
    }

    /// <summary>Registers an existing parameter object (the original weight) as <c>{Name}_{suffix}</c>.</summary>
    internal void Adopt(string suffix, Parameter parameter)
    {
        string key = Free(suffix);
        ModuleAccess.SetParameter(Module, key, parameter);
        _parameters.Add(key);
    }

    /// <summary>Registers a buffer <c>{Name}_{suffix}</c>; persistent buffers appear in the state dict.</summary>
    /// <exception cref="ArgumentException">the module already has state of that name.</exception>
    public void AddBuffer(string suffix, Tensor initial, bool persistent = true)
    {
        string key = Free(suffix);
        Module.register_buffer(key, initial.detach().DetachFromDisposeScope(), persistent);
        _buffers.Add(key);
    }

    /// <summary>The current tensor of the parameter <c>{Name}_{suffix}</c>.</summary>
    /// <exception cref="InvalidOperationException">it is no longer registered on the module.</exception>
    public Tensor Parameter(string suffix) => ModuleAccess.OwnParameter(Module, Key(suffix))
        ?? throw new InvalidOperationException($"{Module.GetName()} has no parameter '{Key(suffix)}' any more, which {Method} on '{Name}' needs");

    /// <summary>The current tensor of the buffer <c>{Name}_{suffix}</c>.</summary>
    /// <exception cref="InvalidOperationException">it is no longer registered on the module.</exception>
    public Tensor Buffer(string suffix) => Module.get_buffer(Key(suffix))
        ?? throw new InvalidOperationException($"{Module.GetName()} has no buffer '{Key(suffix)}' any more, which {Method} on '{Name}' needs");

    /// <summary>Unregisters everything registered through this state (tensors are not disposed).</summary>
    internal void Unregister()
    {
        foreach (var k in _parameters) ModuleAccess.RemoveParameter(Module, k);
        foreach (var k in _buffers) ModuleAccess.RemoveBuffer(Module, k);
        _parameters.Clear();
        _buffers.Clear();
    }

    private string Free(string suffix)
    {
        string key = Key(suffix);
        if (ModuleAccess.HasState(Module, key))
            throw new ArgumentException($"{Module.GetName()} already has a parameter or buffer '{key}', which {Method} on '{Name}' needs", "name");
        return key;
    }
}
