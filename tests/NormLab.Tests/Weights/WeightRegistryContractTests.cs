using NormLab.Registry;
using NormLab.Tests.Support;
using NormLab.Weights;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace NormLab.Tests.Weights;

/// <summary>
/// Contracts every registered weight normalizer keeps with its default spec, on a Linear and a Conv2d:
/// the raw weight and the method's state replace the weight, gradients reach all of them, state dicts
/// round-trip, Remove folds the weight back, and the metadata is complete.
/// </summary>
public class WeightRegistryContractTests
{
    public static TheoryData<string> Names()
    {
        var data = new TheoryData<string>();
        foreach (var e in WeightNormRegistry.Entries) data.Add(e.Name);
        return data;
    }

    /// <summary>A Linear (10 rows of 24) and a Conv2d (6 rows of 4·2·2): shapes every default spec accepts.</summary>
    private static IEnumerable<(nn.Module<Tensor, Tensor> Module, Tensor Input)> Targets()
    {
        var lin = nn.Linear(24, 10);
        lin.to(ScalarType.Float64);
        yield return (lin, new Rand(1).Normal(5, 24));
        var conv = nn.Conv2d(4, 6, 2);
        conv.to(ScalarType.Float64);
        yield return (conv, new Rand(2).Normal(2, 4, 5, 5));
    }

    [Fact]
    public void The_registry_has_exactly_the_issue_methods_and_keys()
    {
        var keys = WeightNormRegistry.Entries.ToDictionary(e => e.Name, e => string.Join(",", e.Keys.Select(k => k.ToString())));
        Assert.Equal(new Dictionary<string, string>
        {
            ["wn"] = "dim=0",
            ["cwn"] = "",
            ["ws"] = "eps_mode=official",
            ["spectral"] = "n_power_iterations=1,exact=false",
            ["own"] = "group=null",
            ["oni"] = "T=5,group=null",
            ["normprop"] = "",
        }, keys);
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void Metadata_is_complete(string name)
    {
        var e = WeightNormRegistry.Registry.Find(name);
        Assert.Matches(@"(19|20)\d\d", e.Paper);
        Assert.False(string.IsNullOrWhiteSpace(e.Formula));
        Assert.False(string.IsNullOrWhiteSpace(e.Summary));
        Assert.All(e.Keys, k => Assert.False(string.IsNullOrWhiteSpace(k.Doc)));
        Assert.Equal(name, WeightNormRegistry.Registry.Create(name, nn.Linear(2, 2)).Name);
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void Weight_is_replaced_by_the_method_state_and_every_parameter_gets_a_gradient(string name)
    {
        foreach (var (module, x) in Targets())
        {
            WeightNormRegistry.Apply(module, name);
            var method = Reparametrization.Find(module)!;
            var names = module.named_parameters().Select(p => p.name).ToList();
            Assert.DoesNotContain("weight", names);
            Assert.Contains("weight_" + method.RawSuffix, names);
            Assert.DoesNotContain("weight", module.state_dict().Keys);
            var y = module.call(x);
            y.square().sum().backward();
            foreach (var (pname, p) in module.named_parameters())
                Assert.True(p.grad is not null && p.grad.isfinite().all().item<bool>() && p.grad.abs().sum().item<double>() > 0,
                    $"{name} on {module.GetName()}: gradient of {pname} missing, zero or not finite");
        }
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void State_dict_round_trips_and_remove_folds_the_effective_weight_back(string name)
    {
        foreach (var (module, x) in Targets())
        {
            WeightNormRegistry.Apply(module, name);
            using (no_grad()) module.call(x); // training forward (spectral moves u, v)
            module.eval();
            var y = module.call(x).detach().clone();

            var copy = module is Linear ? (nn.Module<Tensor, Tensor>)nn.Linear(24, 10) : nn.Conv2d(4, 6, 2);
            copy.to(ScalarType.Float64);
            WeightNormRegistry.Apply(copy, name);
            copy.load_state_dict(module.state_dict());
            copy.eval();
            TensorAssert.Close(y, copy.call(x), 0, 0, $"{name}: output after load_state_dict");

            Reparametrization.Remove(module);
            Assert.Equal(new[] { "bias", "weight" }, module.named_parameters().Select(p => p.name).ToArray());
            Assert.Empty(module.named_buffers());
            TensorAssert.Close(y, module.call(x), 1e-12, 1e-12, $"{name}: output after Remove");
        }
    }
}
