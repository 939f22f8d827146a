using System.Reflection;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace NormLab.Weights;

/// <summary>
/// The few TorchSharp module internals a reparametrization needs and the public API does not expose:
/// removing a registered parameter or buffer, finding the fields a built-in module reads its weight
/// from, running its reflection-based component registration, and its forward hooks for any arity.
/// </summary>
/// <remarks>
/// TorchSharp 0.107.0: <c>nn.Module</c> keeps parameters and buffers in the protected ordered
/// dictionaries <c>_internal_params</c> and <c>_internal_buffers</c>; <c>Linear</c> and
/// <c>Convolution</c> read their weight from the field <c>_weight</c> in <c>forward</c>; every
/// <c>Module&lt;…&gt;</c> derives from <c>HookableModule&lt;TPre, TPost&gt;</c>, whose
/// <c>register_forward_pre_hook(Action&lt;Module&gt;)</c> and <c>register_forward_hook(Action&lt;Module&gt;)</c>
/// run in <c>call</c> (which <c>nn.Sequential</c> uses) and return a remover with <c>remove()</c>.
/// </remarks>
internal static class ModuleAccess
{
    private const BindingFlags Instance = BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic;

    private static readonly FieldInfo ParamsField = typeof(nn.Module).GetField("_internal_params", Instance)
        ?? throw new MissingFieldException("TorchSharp nn.Module has no _internal_params field; this TorchSharp version is not supported");

    private static readonly FieldInfo BuffersField = typeof(nn.Module).GetField("_internal_buffers", Instance)
        ?? throw new MissingFieldException("TorchSharp nn.Module has no _internal_buffers field; this TorchSharp version is not supported");

    private static readonly MethodInfo RegisterComponentsMethod = typeof(nn.Module).GetMethod("RegisterComponents", Instance, Type.EmptyTypes)
        ?? throw new MissingMethodException("TorchSharp nn.Module has no RegisterComponents method; this TorchSharp version is not supported");

    private static IDictionary<string, Parameter> Params(nn.Module m) => (IDictionary<string, Parameter>)ParamsField.GetValue(m)!;

    private static IDictionary<string, (Tensor, bool)> Buffers(nn.Module m) => (IDictionary<string, (Tensor, bool)>)BuffersField.GetValue(m)!;

    /// <summary>The module's own (non-recursive) parameter of that name, or null.</summary>
    public static Parameter? OwnParameter(nn.Module m, string name) => Params(m).TryGetValue(name, out var p) ? p : null;

    /// <summary>Whether the module itself has a parameter or a buffer of that name.</summary>
    public static bool HasState(nn.Module m, string name) => Params(m).ContainsKey(name) || Buffers(m).ContainsKey(name);

    /// <summary>Unregisters a parameter; the tensor is not disposed.</summary>
    public static void RemoveParameter(nn.Module m, string name)
    {
        if (Params(m).ContainsKey(name)) Params(m).Remove(name);
    }

    /// <summary>Unregisters a buffer; the tensor is not disposed.</summary>
    public static void RemoveBuffer(nn.Module m, string name)
    {
        if (Buffers(m).ContainsKey(name)) Buffers(m).Remove(name);
    }

    /// <summary>The position of a parameter among the module's own, or −1.</summary>
    public static int ParameterIndex(nn.Module m, string name) =>
        ((IList<(string, Parameter)>)ParamsField.GetValue(m)!).Select((kv, i) => (kv.Item1, i)).FirstOrDefault(x => x.Item1 == name, (name, -1)).Item2;

    /// <summary>Registers a parameter at a position (clamped to the end).</summary>
    public static void InsertParameter(nn.Module m, int index, string name, Parameter p)
    {
        var list = (IList<(string, Parameter)>)ParamsField.GetValue(m)!;
        list.Insert(Math.Clamp(index, 0, list.Count), (name, p));
    }

    /// <summary>Registers (or replaces) a parameter under a name, appended at the end when new.</summary>
    public static void SetParameter(nn.Module m, string name, Parameter p) => Params(m)[name] = p;

    /// <summary>
    /// Runs the module's reflection-based registration now. Built-in modules register it lazily when a
    /// parent registers them; run later, it would find the weight field and register it again.
    /// </summary>
    public static void RegisterComponents(nn.Module m) => RegisterComponentsMethod.Invoke(m, null);

    /// <summary>The instance fields (of any declaring type) that hold exactly this tensor object.</summary>
    public static FieldInfo[] FieldsHolding(nn.Module m, Tensor value)
    {
        var found = new List<FieldInfo>();
        for (var t = m.GetType(); t is not null && t != typeof(object); t = t.BaseType)
            foreach (var f in t.GetFields(Instance | BindingFlags.DeclaredOnly))
                if (f.FieldType.IsAssignableFrom(typeof(Parameter)) && ReferenceEquals(f.GetValue(m), value))
                    found.Add(f);
        return found.ToArray();
    }

    /// <summary>Registers a forward pre-hook and a forward hook that run in <c>call</c>; returns an action removing both.</summary>
    /// <exception cref="ArgumentException">the module does not support forward hooks.</exception>
    public static Action AddHooks(nn.Module m, Action<nn.Module> before, Action<nn.Module> after)
    {
        var pre = m.GetType().GetMethod("register_forward_pre_hook", new[] { typeof(Action<nn.Module>) });
        var post = m.GetType().GetMethod("register_forward_hook", new[] { typeof(Action<nn.Module>) });
        if (pre is null || post is null)
            throw new ArgumentException($"module {m.GetName()} ({m.GetType().Name}) does not support forward hooks, so its weight cannot be reparametrized", "module");
        var removers = new[] { pre.Invoke(m, new object[] { before })!, post.Invoke(m, new object[] { after })! };
        return () =>
        {
            foreach (var r in removers) r.GetType().GetMethod("remove", Type.EmptyTypes)!.Invoke(r, null);
        };
    }
}
