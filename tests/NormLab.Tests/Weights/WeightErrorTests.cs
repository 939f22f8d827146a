using NormLab.Registry;
using NormLab.Weights;
using TorchSharp;
using static NormLab.Tests.Support.ErrorAssert;
using static TorchSharp.torch;

namespace NormLab.Tests.Weights;

/// <summary>Misuse of the weight normalizers gives one-line errors that name the problem and what is allowed.</summary>
public class WeightErrorTests
{
    [Fact]
    public void Unknown_parameter_name()
    {
        var lin = nn.Linear(3, 2);
        OneLine(Assert.Throws<ArgumentException>(() => WeightNorm.Apply(lin, name: "wieght")),
            "Linear has no parameter 'wieght'", "its parameters: weight, bias");
        OneLine(Assert.ThrowsAny<ArgumentException>(() => WeightNormRegistry.Apply(nn.Linear(3, 2, hasBias: false), "spectral", "bias")),
            "has no parameter 'bias'", "its parameters: weight");
        Assert.Equal(new[] { "weight", "bias" }, lin.named_parameters().Select(p => p.name).ToArray());
    }

    [Theory]
    [InlineData(2)]
    [InlineData(7)]
    public void Dim_out_of_range(long dim)
    {
        var lin = nn.Linear(3, 2);
        OneLine(Assert.Throws<ArgumentException>(() => WeightNorm.Apply(lin, dim: dim)),
            $"wn: dim ({dim}) is out of range for the weight [2, 3]", "use 0..1, or -1");
        Assert.Equal(new[] { "weight", "bias" }, lin.named_parameters().Select(p => p.name).ToArray());
        OneLine(Assert.Throws<ArgumentException>(() => new WeightNorm(-2)), "dim (-2) must be -1");
        OneLine(Assert.ThrowsAny<ArgumentException>(() => WeightNormRegistry.Apply(nn.Conv2d(2, 3, 3), $"wn(dim={dim + 2})")),
            $"dim ({dim + 2}) is out of range for the weight [3, 2, 3, 3]");
        OneLine(Assert.Throws<ArgumentException>(() => SpectralNorm.Apply(nn.Linear(3, 2), dim: dim)), $"spectral: dim ({dim}) is out of range");
    }

    [Fact]
    public void Applying_twice()
    {
        var conv = nn.Conv2d(2, 3, 3);
        WeightNorm.Apply(conv);
        OneLine(Assert.Throws<ArgumentException>(() => SpectralNorm.Apply(conv)),
            "'weight' is already reparametrized by wn", "call Reparametrization.Remove before applying spectral");
        OneLine(Assert.Throws<ArgumentException>(() => WeightNorm.Apply(conv)), "already reparametrized by wn");
        Assert.Equal(new[] { "bias", "weight_g", "weight_v" }, conv.named_parameters().Select(p => p.name).ToArray());
    }

    [Fact]
    public void Remove_on_a_module_that_was_never_wrapped()
    {
        OneLine(Assert.Throws<ArgumentException>(() => Reparametrization.Remove(nn.Linear(3, 2))),
            "Linear: 'weight' is not reparametrized, so there is nothing to remove");
        var lin = nn.Linear(3, 2);
        WeightNorm.Apply(lin);
        Reparametrization.Remove(lin);
        OneLine(Assert.Throws<ArgumentException>(() => Reparametrization.Remove(lin)), "'weight' is not reparametrized");
        WeightNorm.Apply(lin);
        OneLine(Assert.Throws<ArgumentException>(() => Reparametrization.Remove(lin, "bias")),
            "'bias' is not reparametrized", "(reparametrized: weight)");
    }

    [Fact]
    public void Shapes_a_method_cannot_take()
    {
        OneLine(Assert.Throws<ArgumentException>(() => OrthogonalWeightNorm.Apply(nn.Linear(4, 4))),
            "own: groups of 4 rows of length 4 cannot be orthonormal after centering", "use group <= 3");
        OneLine(Assert.Throws<ArgumentException>(() => OrthogonalWeightNorm.Apply(nn.Linear(8, 6), group: 4)),
            "own: group (4) must be a positive divisor of the number of rows (6)");
        OneLine(Assert.ThrowsAny<ArgumentException>(() => WeightNormRegistry.Apply(nn.Linear(8, 6), "oni(group=5)")),
            "oni: group (5) must be a positive divisor of the number of rows (6)");
        OneLine(Assert.Throws<ArgumentException>(() => WeightStandardization.Apply(nn.Linear(1, 3))),
            "ws: rows of the weight [3, 1] have 1 element");
        OneLine(Assert.Throws<ArgumentException>(() => new SpectralNorm(n_power_iterations: 0)), "n_power_iterations (0) must be at least 1");
        OneLine(Assert.Throws<ArgumentException>(() => new OrthogonalizationByNewton(T: -1)), "T (-1) must be at least 0");
    }

    [Fact]
    public void A_failed_apply_leaves_the_module_unchanged()
    {
        var lin = nn.Linear(4, 4);
        var before = lin.weight;
        Assert.Throws<ArgumentException>(() => OrthogonalWeightNorm.Apply(lin));
        Assert.Same(before, lin.weight);
        Assert.Equal(new[] { "weight", "bias" }, lin.named_parameters().Select(p => p.name).ToArray());
        Assert.Null(Reparametrization.Find(lin));

        // a state name already taken: rolled back after the method started registering
        var taken = nn.Linear(3, 2);
        taken.register_buffer("weight_u", zeros(2));
        OneLine(Assert.Throws<ArgumentException>(() => SpectralNorm.Apply(taken)), "already has a parameter or buffer 'weight_u'");
        Assert.Equal(new[] { "weight", "bias" }, taken.named_parameters().Select(p => p.name).ToArray());
        Assert.Equal(new[] { "weight_u" }, taken.named_buffers().Select(b => b.name).ToArray());
        Assert.Equal(new long[] { 1, 2 }, taken.call(ones(1, 3)).shape);
        WeightNorm.Apply(taken); // and it can still be reparametrized
    }

    [Theory]
    [InlineData("nope", "unknown weight normalizer 'nope'", "wn, cwn, ws, spectral, own, oni, normprop")]
    [InlineData("wn(dims=1)", "unknown key 'dims' for 'wn'", "dim=0")]
    [InlineData("ws(eps_mode=unbiased)", "eps_mode must be one of official|biased")]
    [InlineData("cwn(scale=2)", "'cwn' takes no keys")]
    [InlineData("spectral(exact=maybe)", "exact must be true or false")]
    public void Bad_specs(string spec, params string[] fragments) =>
        OneLine(Assert.ThrowsAny<ArgumentException>(() => WeightNormRegistry.Apply(nn.Linear(3, 2), spec)), fragments);
}
