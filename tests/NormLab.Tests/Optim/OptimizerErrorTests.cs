using NormLab.Optim;
using NormLab.Registry;
using TorchSharp.Modules;
using Adam = NormLab.Optim.Adam;
using static TorchSharp.torch;
using Parameter = TorchSharp.Modules.Parameter;

namespace NormLab.Tests.Optim;

/// <summary>Invalid hyper-parameters, unknown names and keys, and misuse give one-line messages that say what is allowed.</summary>
public class OptimizerErrorTests
{
    private static Parameter[] Params() => new Problem().Parameters();

    public static TheoryData<string, string> BadSpecs => new()
    {
        { "sgd(lr=-0.1)", "lr (-0.1) must be a finite number >= 0" },
        { "adam(lr=-1)", "lr (-1) must be a finite number >= 0" },
        { "adamw(lr=-1e-3)", "lr (-0.001) must be a finite number >= 0" },
        { "lars(lr=-1)", "lr (-1) must be a finite number >= 0" },
        { "lamb(lr=-0.01)", "lr (-0.01) must be a finite number >= 0" },
        { "lans(lr=-0.01)", "lr (-0.01) must be a finite number >= 0" },
        { "gradnorm(inner=sgd(lr=-2))", "lr (-2) must be a finite number >= 0" },
        { "adam(beta1=1)", "beta1 (1) must be in [0, 1)" },
        { "adam(beta2=-0.1)", "beta2 (-0.1) must be in [0, 1)" },
        { "adamw(beta1=1.5)", "beta1 (1.5) must be in [0, 1)" },
        { "lamb(beta2=1)", "beta2 (1) must be in [0, 1)" },
        { "lans(beta1=-0.5)", "beta1 (-0.5) must be in [0, 1)" },
        { "adam(eps=-1e-8)", "eps (-1e-08) must be a finite number >= 0" },
        { "sgd(weight_decay=-0.1)", "weight_decay (-0.1) must be a finite number >= 0" },
        { "sgd(momentum=-0.9)", "momentum (-0.9) must be a finite number >= 0" },
        { "sgd(nesterov=true)", "nesterov requires momentum > 0, got momentum (0)" },
        { "lars(eta=0)", "eta (0) must be a finite number > 0" },
        { "lamb(clamp=0)", "clamp (0) must be a finite number > 0" },
        { "adagrad", "unknown optimizer 'adagrad'; valid: sgd, adam, adamw, lars, lamb, lans, gradnorm" },
        { "gradnorm(inner=rmsprop)", "unknown optimizer 'rmsprop'" },
        { "lamb(lr=0.01,beta=0.9)", "unknown key 'beta' for 'lamb'; valid keys: lr=0.001, beta1=0.9, beta2=0.999, eps=1e-06, weight_decay=0.01, clamp=null, gc=false" },
        { "lars(trust=0.01)", "unknown key 'trust' for 'lars'; valid keys: lr=1, momentum=0.9, weight_decay=0, eta=0.001, nesterov=false, exclude_bias=false, clip=false, gc=false" },
        { "lans(gc=true)", "unknown key 'gc' for 'lans'" },
        { "sgd(lr=fast)", "'sgd': lr must be a number, got 'fast'" },
    };

    [Theory]
    [MemberData(nameof(BadSpecs))]
    public void A_bad_spec_is_a_one_line_error_naming_the_value_and_the_valid_range(string spec, string fragment)
    {
        var e = Assert.ThrowsAny<ArgumentException>(() => OptimizerRegistry.Create(spec, Params()));
        Assert.Contains(fragment, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void Constructors_validate_like_specs()
    {
        Assert.Contains("beta2 (1) must be in [0, 1)", Assert.Throws<ArgumentException>(() => new Lamb(Params(), beta2: 1)).Message);
        Assert.Contains("lr (NaN) must be", Assert.Throws<ArgumentException>(() => new Lars(Params(), lr: double.NaN)).Message);
        Assert.Contains("empty parameter list", Assert.Throws<ArgumentException>(() => new Sgd(Array.Empty<Parameter>())).Message);
    }

    [Fact]
    public void Group_options_are_validated_when_added_and_when_stepping()
    {
        var ps = Params();
        var e = Assert.Throws<ArgumentException>(() => new Lans(new[] { new ParamGroup<AdamOptions>(ps, new AdamOptions { beta1 = 2 }) }));
        Assert.Contains("beta1 (2) must be in [0, 1)", e.Message);
        using var lars = new Lars(ps);
        lars.ParamGroups.Single().LearningRate = -1;
        Assert.Contains("lr (-1) must be a finite number >= 0", Assert.Throws<ArgumentException>(() => lars.step()).Message);
    }

    [Fact]
    public void Wrong_group_options_and_duplicate_parameters_are_refused()
    {
        var ps = Params();
        Assert.Contains("needs parameter groups with LarsOptions, got AdamOptions",
            Assert.Throws<ArgumentException>(() => new Lars(new[] { new ParamGroup<AdamOptions>(ps, new AdamOptions { LearningRate = 0.1 }) })).Message);
        Assert.Contains("more than one parameter group",
            Assert.Throws<ArgumentException>(() => new Sgd(new[] { new ParamGroup<SgdOptions>(ps), new ParamGroup<SgdOptions>(ps[..1]) })).Message);
        using var sgd = new Sgd(ps[..1]);
        Assert.Contains("not managed by this Sgd", Assert.Throws<ArgumentException>(() => sgd.StateOf(ps[1])).Message);
    }

    [Fact]
    public void Unknown_state_keys_list_the_valid_ones()
    {
        var ps = Params();
        using var adam = new Adam(ps);
        var e = Assert.Throws<KeyNotFoundException>(() => adam.StateOf(ps[0])["momentum_buffer"]);
        Assert.Contains("valid: exp_avg, exp_avg_sq, step", e.Message);
        Assert.Contains("has shape [5] but the parameter has shape [4, 3]",
            Assert.Throws<ArgumentException>(() => adam.StateOf(ps[0]).Load("exp_avg", zeros(5, ScalarType.Float64))).Message);
    }
}
