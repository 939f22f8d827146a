using NormLab.Distributed;
using NormLab.Registry;
using NormLab.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace NormLab.Tests.Distributed;

/// <summary>One training-mode step of a registry normalizer: y, dL/dx, parameter gradients and buffers after the step, for L = Σ y·g.</summary>
public sealed record SyncStep(Tensor Y, Tensor GradX, Dictionary<string, Tensor> ParamGrads, Dictionary<string, Tensor> Buffers)
{
    /// <summary>A sync-capable case: a spec, its input shape (batch first) and, for conditional specs, the condition.</summary>
    public sealed record Case(string Spec, long[] Shape, string? Condition = null)
    {
        public override string ToString() => $"{Spec} on [{string.Join(", ", Shape)}]";
    }

    /// <summary>Every sync-capable normalizer, with a global batch of 7 (shards 4+3 and 3+2+2).</summary>
    public static readonly Case[] Cases =
    {
        new("bn(sync=true)", new long[] { 7, 6, 3, 3 }),
        new("bn(sync=true)", new long[] { 7, 5 }),
        new("bgn(groups=2,sync=true)", new long[] { 7, 6, 3, 3 }),
        new("meanbn(sync=true)", new long[] { 7, 6, 3, 3 }),
        new("sn(sync=true)", new long[] { 7, 6, 3, 3 }),
        new("sn(sync=true)", new long[] { 7, 6 }),
        new("zca(group=3,sync=true)", new long[] { 7, 6, 3, 3 }),
        new("pca(group=3,sync=true)", new long[] { 7, 6, 3, 3 }),
        new("cd(group=3,sync=true)", new long[] { 7, 6, 3, 3 }),
        new("itn(group=3,sync=true)", new long[] { 7, 6, 3, 3 }),
        new("sw(group=3,candidates=bw+iw+bn+in+ln,sync=true)", new long[] { 7, 6, 3, 3 }),
        new("mn(modes=2,sync=true)", new long[] { 7, 6, 3, 3 }),
        new("an(K=3,sync=true)", new long[] { 7, 6, 3, 3 }),
        new("cbn(classes=4,norm=bn(sync=true))", new long[] { 7, 6, 3, 3 }, "classes"),
    };

    /// <summary>The spec without its sync=true (the same normalizer, unsynchronized).</summary>
    public static string Unsynchronized(string spec)
    {
        var plain = spec.Replace(",sync=true", "").Replace("(sync=true)", "");
        Assert.DoesNotContain("sync", plain);
        return plain;
    }

    /// <summary>Builds the case's module in float64 with a deterministic state (random initial parameters perturbed by a seeded generator).</summary>
    public static nn.Module Build(Case c, long seed = 5)
    {
        var module = NormRegistry.CreateAny(c.Spec, c.Shape[1..], c.Condition is null ? null : Array.Empty<long>());
        module.to(ScalarType.Float64);
        var rand = new Rand(seed);
        using var _ = no_grad();
        foreach (var (_, p) in module.named_parameters())
            p.copy_(p + 0.3 * rand.Normal(p.shape));
        return module;
    }

    /// <summary><see cref="Build"/>, then <paramref name="state"/> loaded.</summary>
    public static nn.Module Build(Case c, Dictionary<string, Tensor> state)
    {
        var module = Build(c);
        module.load_state_dict(state);
        return module;
    }

    /// <summary>The case's global input, output gradient and condition.</summary>
    public static (Tensor X, Tensor G, Tensor? Cond) Data(Case c, long seed = 11)
    {
        var rand = new Rand(seed);
        var x = rand.Features(c.Shape);
        var g = rand.Normal(c.Shape);
        Tensor? cond = c.Condition is null ? null : randint(0, 4, new[] { c.Shape[0] }, generator: new Generator((ulong)seed));
        return (x, g, cond);
    }

    /// <summary>Runs one step of <paramref name="module"/> on (x, cond) with output gradient g.</summary>
    public static SyncStep Run(nn.Module module, Tensor x, Tensor g, Tensor? cond)
    {
        module.train();
        foreach (var p in module.parameters()) p.grad = null;
        var input = x.detach().clone().requires_grad_(true);
        var y = module switch
        {
            nn.Module<Tensor, Tensor> plain => plain.call(input),
            nn.Module<Tensor, Tensor, Tensor> conditional => conditional.call(input, cond!),
            _ => throw new InvalidOperationException(module.GetType().Name),
        };
        (y * g).sum().backward();
        return new SyncStep(y.detach().clone(), input.grad!.clone(),
            module.named_parameters().ToDictionary(p => p.name, p => (p.parameter.grad ?? zeros_like(p.parameter)).clone()),
            module.named_buffers().ToDictionary(b => b.name, b => b.buffer.detach().clone()));
    }

    /// <summary>The step on rank <paramref name="world"/>'s contiguous shard, starting from <paramref name="state"/>.</summary>
    public static SyncStep RunShard(Case c, Dictionary<string, Tensor> state, Tensor x, Tensor g, Tensor? cond, Communicator world)
    {
        var module = Build(c, state);
        var (offset, length) = Shards.Of(x.shape[0], world);
        return Run(module, x.narrow(0, offset, length), g.narrow(0, offset, length), cond?.narrow(0, offset, length));
    }

    /// <summary>Asserts that per-rank shard steps combine into the single-process step: outputs and input gradients concatenated, parameter gradients summed, buffers equal.</summary>
    public static void AssertCombines(SyncStep expected, IReadOnlyList<SyncStep> ranks, string what, double rtol = 1e-10)
    {
        TensorAssert.Close(expected.Y, cat(ranks.Select(r => r.Y).ToArray()), rtol, 1e-12, $"{what}: y");
        TensorAssert.Close(expected.GradX, cat(ranks.Select(r => r.GradX).ToArray()), rtol, 1e-12, $"{what}: grad input");
        foreach (var (name, grad) in expected.ParamGrads)
        {
            var sum = ranks.Select(r => r.ParamGrads[name]).Aggregate((a, b) => a + b);
            TensorAssert.Close(grad, sum, rtol, 1e-12, $"{what}: grad {name}");
        }
        foreach (var (name, buffer) in expected.Buffers)
        {
            TensorAssert.Close(buffer, ranks[0].Buffers[name], rtol, 1e-12, $"{what}: buffer {name}");
            foreach (var r in ranks.Skip(1))
                Assert.True(TensorAssert.Same(ranks[0].Buffers[name], r.Buffers[name]), $"{what}: buffer {name} differs between ranks");
        }
    }
}
