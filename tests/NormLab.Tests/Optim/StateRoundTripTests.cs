using NormLab.Optim;
using NormLab.Registry;
using NormLab.Tests.Support;
using TorchSharp.Modules;
using Adam = NormLab.Optim.Adam;
using static TorchSharp.torch;
using Parameter = TorchSharp.Modules.Parameter;

namespace NormLab.Tests.Optim;

/// <summary>
/// Saving an optimizer after some steps, loading the state into a fresh optimizer over copies of the
/// parameters and continuing gives bit-identical parameters and state to an uninterrupted run.
/// </summary>
public class StateRoundTripTests
{
    public static TheoryData<string> Specs => new()
    {
        "sgd(lr=0.1,momentum=0.9,nesterov=true,weight_decay=0.01,gc=true)",
        "adam(lr=0.01,weight_decay=0.1,gc=true)",
        "adamw(lr=0.01,gc=true)",
        "lars(lr=0.5,weight_decay=0.01,exclude_bias=true,clip=true,gc=true)",
        "lamb(lr=0.01,clamp=2.5,gc=true)",
        "lans(lr=0.01,weight_decay=0.1)",
        "gradnorm(inner=lamb(lr=0.01))",
    };

    [Theory]
    [MemberData(nameof(Specs))]
    public void Save_load_and_continue_through_a_stream_is_bit_identical(string spec) =>
        AssertResumeIsBitIdentical(spec, (saved, fresh) =>
        {
            var stream = new MemoryStream();
            saved.save_state_dict(new BinaryWriter(stream));
            stream.Position = 0;
            fresh.load_state_dict(new BinaryReader(stream));
        });

    [Theory]
    [MemberData(nameof(Specs))]
    public void Load_from_another_optimizers_state_dict_and_continue_is_bit_identical(string spec) =>
        AssertResumeIsBitIdentical(spec, (saved, fresh) => fresh.load_state_dict(saved.state_dict()));

    /// <summary>Runs 6 steps uninterrupted, and 3 steps + transfer of the state into a fresh optimizer + 3 steps; both must agree bit for bit.</summary>
    private static void AssertResumeIsBitIdentical(string spec, Action<NormOptimizer, NormOptimizer> transfer)
    {
        var p = new Problem(steps: 6);
        var (uninterrupted, full) = Run(spec, p, 0, 6, null);
        var (firstHalf, saved) = Run(spec, p, 0, 3, null);
        var (resumed, restored) = Run(spec, p, 3, 6, firstHalf, fresh => transfer(saved, fresh));
        using (full)
        using (saved)
        using (restored) AssertSame(full, uninterrupted, restored, resumed, spec);
    }

    [Fact]
    public void Group_options_changed_by_a_scheduler_are_saved_and_restored()
    {
        var ps = new Problem().Parameters();
        using var lamb = new Lamb(new[] { new ParamGroup<LambOptions>(ps[..2]), new ParamGroup<LambOptions>(ps[2..], new LambOptions { LearningRate = 0.5, clamp = 3 }) });
        lamb.ParamGroups.First().LearningRate = 0.125;
        var stream = new MemoryStream();
        lamb.save_state_dict(new BinaryWriter(stream));
        stream.Position = 0;
        using var fresh = new Lamb(new[] { new ParamGroup<LambOptions>(ps[..2]), new ParamGroup<LambOptions>(ps[2..]) });
        fresh.load_state_dict(new BinaryReader(stream));
        var groups = fresh.ParamGroups.Cast<ParamGroup<LambOptions>>().ToArray();
        Assert.Equal(0.125, groups[0].LearningRate);
        Assert.Equal(0.5, groups[1].LearningRate);
        Assert.Equal(3.0, groups[1].Options.clamp);
        Assert.Null(groups[0].Options.clamp);
    }

    [Fact]
    public void Loading_state_of_another_optimizer_type_is_refused()
    {
        var ps = new Problem().Parameters();
        using var lamb = new Lamb(ps);
        var stream = new MemoryStream();
        lamb.save_state_dict(new BinaryWriter(stream));
        stream.Position = 0;
        using var lans = new Lans(ps);
        var e = Assert.Throws<InvalidDataException>(() => lans.load_state_dict(new BinaryReader(stream)));
        Assert.Contains("Lamb", e.Message);
    }

    /// <summary>Steps <paramref name="from"/>..<paramref name="to"/> from weights <paramref name="start"/> (default: the problem's).</summary>
    private static (Parameter[] Params, NormOptimizer Optimizer) Run(string spec, Problem p, int from, int to, Parameter[]? start, Action<NormOptimizer>? load = null)
    {
        var ps = start is null ? p.Parameters() : start.Select(s => new Parameter(s.detach().clone(), requires_grad: true)).ToArray();
        var optimizer = OptimizerRegistry.Create(spec, ps);
        load?.Invoke(optimizer);
        for (int k = from; k < to; k++)
        {
            p.SetGrads(ps, k);
            optimizer.step();
        }
        return (ps, optimizer);
    }

    private static void AssertSame(NormOptimizer expectedOptimizer, Parameter[] expected, NormOptimizer actualOptimizer, Parameter[] actual, string spec)
    {
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.True(TensorAssert.Same(expected[i].detach(), actual[i].detach()), $"{spec}: parameter {i} differs after resuming");
            var e = expectedOptimizer.StateOf(expected[i]);
            var a = actualOptimizer.StateOf(actual[i]);
            Assert.Equal(e.step, a.step);
            foreach (var key in e.Keys)
            {
                Assert.NotNull(e[key]);
                Assert.True(TensorAssert.Same(e[key]!, a[key]!), $"{spec}: state {key} of parameter {i} differs after resuming");
            }
        }
    }
}
