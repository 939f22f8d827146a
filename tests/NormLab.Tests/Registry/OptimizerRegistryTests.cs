using System.Text.RegularExpressions;
using NormLab.Optim;
using NormLab.Registry;
using NormLab.Tests.Optim;
using static TorchSharp.torch;

namespace NormLab.Tests.Registry;

/// <summary>The optimizer registry: exactly the issue's names and keys, papers with years, every entry builds and steps.</summary>
public class OptimizerRegistryTests
{
    [Fact]
    public void Names_and_keys_are_exactly_the_specified_ones()
    {
        var expected = new Dictionary<string, string[]>
        {
            ["sgd"] = new[] { "lr", "momentum", "weight_decay", "nesterov", "gc" },
            ["adam"] = new[] { "lr", "beta1", "beta2", "eps", "weight_decay", "gc" },
            ["adamw"] = new[] { "lr", "beta1", "beta2", "eps", "weight_decay", "gc" },
            ["lars"] = new[] { "lr", "momentum", "weight_decay", "eta", "nesterov", "exclude_bias", "clip", "gc" },
            ["lamb"] = new[] { "lr", "beta1", "beta2", "eps", "weight_decay", "clamp", "gc" },
            ["lans"] = new[] { "lr", "beta1", "beta2", "eps", "weight_decay" },
            ["gradnorm"] = new[] { "inner" },
        };
        Assert.Equal(expected.Keys, OptimizerRegistry.Entries.Select(e => e.Name));
        foreach (var e in OptimizerRegistry.Entries)
            Assert.Equal(expected[e.Name], e.Keys.Select(k => k.Name));
    }

    [Fact]
    public void Every_entry_has_a_paper_with_a_year_a_formula_and_documented_keys()
    {
        foreach (var e in OptimizerRegistry.Entries)
        {
            Assert.Matches(new Regex(@"(19|20)\d\d"), e.Paper);
            Assert.False(string.IsNullOrWhiteSpace(e.Formula), e.Name);
            Assert.All(e.Keys, k => Assert.False(string.IsNullOrWhiteSpace(k.Doc), $"{e.Name}.{k.Name}"));
        }
    }

    [Fact]
    public void The_issue_example_spec_builds_lamb_with_those_values()
    {
        using var lamb = (Lamb)OptimizerRegistry.Create("lamb(lr=0.01,beta1=0.9,beta2=0.999,eps=1e-6,weight_decay=0.01)", new Problem().Parameters());
        var o = lamb.Defaults;
        Assert.Equal((0.01, 0.9, 0.999, 1e-6, 0.01), (o.LearningRate!.Value, o.beta1!.Value, o.beta2!.Value, o.eps!.Value, o.weight_decay!.Value));
        Assert.Null(o.clamp);
    }

    [Fact]
    public void Gradnorm_wraps_the_nested_inner_spec()
    {
        using var g = (LayerwiseGradNorm)OptimizerRegistry.Create("gradnorm(inner=lars(lr=2,eta=0.01))", new Problem().Parameters());
        var lars = Assert.IsType<Lars>(g.Inner);
        Assert.Equal(2, lars.Defaults.LearningRate);
        Assert.Equal(0.01, lars.Defaults.eta);
        using var d = (LayerwiseGradNorm)OptimizerRegistry.Create("gradnorm", new Problem().Parameters());
        Assert.IsType<Sgd>(d.Inner);
    }

    [Fact]
    public void Every_entry_with_defaults_takes_a_finite_step_and_names_its_state_as_pytorch()
    {
        foreach (var e in OptimizerRegistry.Entries)
        {
            var p = new Problem();
            var ps = p.Parameters();
            using var optimizer = OptimizerRegistry.Create(e.Name, ps);
            p.SetGrads(ps, 0);
            optimizer.step();
            Assert.All(ps, x => Assert.True(x.isfinite().all().item<bool>(), e.Name));
            var keys = optimizer.StateOf(ps[0]).Keys;
            Assert.Subset(new HashSet<string> { "momentum_buffer", "exp_avg", "exp_avg_sq" }, keys.ToHashSet());
            Assert.NotEmpty(keys);
        }
    }
}
