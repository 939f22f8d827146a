using TorchSharp;
using static TorchSharp.torch;

namespace NormLab.Kernels;

/// <summary>
/// One call of a fused kernel: what it computes forward (y and the statistics it saves) and backward
/// (dx and the parameter gradients). Subclasses hold the configuration; <see cref="FusedFunction"/>
/// wires them into autograd.
/// </summary>
internal abstract class FusedCall
{
    /// <summary>The kernel's name, for error messages.</summary>
    public abstract string Name { get; }

    /// <summary>Whether dx is needed (recorded at forward).</summary>
    public bool NeedInput { get; private set; }

    /// <summary>Per parameter: its shape when it needs a gradient, else null (recorded at forward).</summary>
    public long[]?[] GradShapes { get; private set; } = Array.Empty<long[]?>();

    /// <summary>Computes y from a contiguous x and the parameters; adds the tensors backward needs to <paramref name="saved"/>.</summary>
    public abstract Tensor Forward(Tensor x, Tensor?[] parameters, List<Tensor> saved);

    /// <summary>
    /// Computes dx (null when not needed) and the parameter gradients (null where not needed), from a
    /// contiguous dy. Must not throw for inputs <see cref="Forward"/> accepted.
    /// </summary>
    public abstract (Tensor? Dx, Tensor?[] Dparameters) Backward(Tensor x, Tensor?[] parameters, IReadOnlyList<Tensor> saved, Tensor dy);

    /// <summary>
    /// The same forward as differentiable tensor ops (the composite, without updating any running
    /// estimate), used when backward itself must be differentiated (<c>create_graph</c>: gradient
    /// penalties, Hessian-vector products). Null: double backward is not supported.
    /// </summary>
    public Func<Tensor, Tensor?[], Tensor>? Composite { get; init; }

    internal void Record(Tensor x, Tensor?[] parameters)
    {
        NeedInput = x.requires_grad;
        GradShapes = parameters.Select(p => p is { requires_grad: true } ? p.shape : null).ToArray();
    }
}

/// <summary>
/// The custom autograd function behind every fused kernel: inputs (call, x, parameters...), output y.
/// Inputs are validated before <see cref="Apply"/>; the backward runs under <see cref="BackwardGuard"/>
/// and never throws (LibTorch aborts the process on exceptions in a custom backward). When the backward
/// runs with grad mode on (<c>create_graph</c>), it differentiates the call's composite instead, so
/// second derivatives are exact rather than silently zero.
/// </summary>
internal sealed class FusedFunction : autograd.SingleTensorFunction<FusedFunction>
{
    public override string Name => "NormLabFused";

    /// <summary>Runs a fused call through autograd on a contiguous input.</summary>
    public static Tensor Apply(FusedCall call, Tensor x, params Tensor?[] parameters)
    {
        var vars = new object[parameters.Length + 2];
        vars[0] = call;
        vars[1] = x;
        for (int i = 0; i < parameters.Length; i++) vars[i + 2] = parameters[i]!;
        return apply(vars);
    }

    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var call = (FusedCall)vars[0];
        var x = (Tensor)vars[1];
        var parameters = vars.Skip(2).Select(v => v as Tensor).ToArray();
        call.Record(x, parameters);
        var saved = new List<Tensor>();
        var y = call.Forward(x, parameters, saved);
        FusedKernels.Count();
        ctx.save_for_backward(new[] { x }.Concat(parameters).Concat(saved).ToList()!);
        ctx.save_data("call", call);
        ctx.save_data("parameters", parameters.Length);
        return y;
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor grad_output)
    {
        int count = (int)ctx.get_data("parameters");
        return BackwardGuard.Run(Name, grad_output, count + 2, () =>
        {
            using var scope = NewDisposeScope();
            var call = (FusedCall)ctx.get_data("call");
            var all = ctx.get_saved_variables();
            var x = all[0];
            var parameters = all.Skip(1).Take(count).Select(t => t is null || t.IsInvalid ? null : t).ToArray();
            var saved = all.Skip(1 + count).ToList();
            if (is_grad_enabled() && call.Composite is { } composite)
                return DifferentiableBackward(composite, x, parameters, grad_output);
            var (dx, dp) = call.Backward(x, parameters, saved, grad_output.contiguous());
            var result = new List<Tensor> { null!, dx?.MoveToOuterDisposeScope()! };
            foreach (var g in dp) result.Add(g?.MoveToOuterDisposeScope()!);
            return result;
        });
    }

    /// <summary>Gradients with a graph: the composite recomputed on the saved inputs and differentiated with create_graph.</summary>
    private static List<Tensor> DifferentiableBackward(Func<Tensor, Tensor?[], Tensor> composite, Tensor x, Tensor?[] parameters, Tensor dy)
    {
        var inputs = new[] { x }.Concat(parameters).ToArray();
        var wrt = inputs.Where(t => t is { requires_grad: true }).Cast<Tensor>().ToList();
        var result = new List<Tensor> { null! };
        if (wrt.Count == 0)
        {
            result.AddRange(inputs.Select(_ => (Tensor)null!));
            return result;
        }
        var y = composite(x, parameters);
        var grads = autograd.grad(new[] { y }, wrt, new[] { dy }, retain_graph: true, create_graph: true, allow_unused: true);
        int next = 0;
        foreach (var t in inputs)
            result.Add(t is { requires_grad: true } ? grads[next++]?.MoveToOuterDisposeScope()! : null!);
        return result;
    }
}
