using NormLab.IO;
using NormLab.Tests.Support;
using static TorchSharp.torch;

namespace NormLab.Tests.Distributed;

/// <summary>
/// Acceptance: <c>mpirun -np P normlab apply --norm "SPEC(sync=true)"</c> on loopback equals one process on
/// the global batch (float64, 1e-10): outputs, input gradients, parameter gradients, running statistics.
/// </summary>
public class MpiApplyTests
{
    public static TheoryData<int, int> CasesAndSizes() => SynchronizedAreaTests.CasesAndSizes();

    [Theory]
    [MemberData(nameof(CasesAndSizes))]
    public void ApplyUnderMpirunEqualsOneProcessOnTheGlobalBatch(int index, int p)
    {
        var c = SyncStep.Cases[index];
        using var dir = new CliRunner.TempDir();
        var (x, g, cond) = SyncStep.Data(c);
        Npy.Write(dir["x.npy"], x);
        Npy.Write(dir["g.npy"], g);
        var common = new List<string> { "--input", dir["x.npy"], "--grad-out", dir["g.npy"] };
        if (cond is not null)
        {
            Npy.Write(dir["cond.npy"], cond);
            common.AddRange(new[] { "--cond", dir["cond.npy"] });
        }
        foreach (var (name, value) in SyncStep.Build(c).named_parameters())
        {
            Npy.Write(dir[$"state_{name}.npy"], value.detach());
            common.AddRange(new[] { "--state", $"{name}={dir[$"state_{name}.npy"]}" });
        }
        string plain = SyncStep.Unsynchronized(c.Spec);

        var one = CliRunner.Run(new[] { "apply", "--norm", plain, "--out", dir["one"] }.Concat(common).ToArray());
        Assert.True(one.ExitCode == 0, one.Err);
        var mpi = MpiRunner.Run(p, new[] { "apply", "--norm", c.Spec, "--out", dir["mpi"] }.Concat(common), limitSeconds: 120);
        Assert.True(mpi.ExitCode == 0, mpi.ToString());
        Assert.Contains($"{p} processes", mpi.Out);

        var expected = Directory.GetFiles(dir["one"], "*.npy").Select(Path.GetFileName).Order().ToList();
        Assert.Equal(expected, Directory.GetFiles(dir["mpi"], "*.npy").Select(Path.GetFileName).Order().ToList());
        Assert.Contains("y.npy", expected);
        Assert.Contains("grad_input.npy", expected);
        foreach (var file in expected)
        {
            var e = Npy.Read(Path.Combine(dir["one"], file!));
            var a = Npy.Read(Path.Combine(dir["mpi"], file!));
            if (e.is_floating_point()) TensorAssert.Close(e, a, 1e-10, 1e-12, $"{c} on {p} processes: {file}");
            else Assert.True(TensorAssert.Same(e, a), $"{c} on {p} processes: {file} differs");
        }
    }
}
