using NormLab.Kernels.Cpu;

namespace NormLab.Tests.Kernels;

/// <summary>
/// The kernels' worker team: every item of a job runs exactly once whoever takes it, a sleeping worker
/// wakes for the next job, failures reach the caller, and nested or concurrent jobs run on their
/// calling thread instead of deadlocking.
/// </summary>
public class KernelTeamTests
{
    /// <summary>A job whose two parts wait (up to 10 s) until both have arrived: true when the worker joined.</summary>
    private static bool BothParticipantsArrive()
    {
        int arrived = 0;
        var seen = new int[2];
        KernelTeam.Run(2, p =>
        {
            Interlocked.Increment(ref seen[p]);
            Interlocked.Increment(ref arrived);
            var clock = System.Diagnostics.Stopwatch.StartNew();
            while (Volatile.Read(ref arrived) < 2 && clock.Elapsed < TimeSpan.FromSeconds(10)) Thread.SpinWait(64);
        });
        Assert.All(seen, count => Assert.True(count <= 1, "a participant ran its part twice"));
        return arrived == 2;
    }

    [Fact]
    public void A_worker_joins_while_it_spins_and_after_it_has_gone_to_sleep()
    {
        Assert.True(BothParticipantsArrive(), "the worker did not join the first job");
        Assert.True(BothParticipantsArrive(), "the worker did not join a job right after the previous one");
        Thread.Sleep(KernelTeam.SpinTime * 20);
        Assert.True(BothParticipantsArrive(), "the worker did not wake from sleep for a new job");
    }

    [Theory]
    [InlineData(2, 1)]
    [InlineData(2, 1000)]
    [InlineData(3, 997)]
    public void Every_item_runs_exactly_once(int participants, int items)
    {
        for (int round = 0; round < 50; round++)
        {
            var runs = new int[items];
            int next = -1;
            KernelTeam.Run(participants, _ =>
            {
                int i;
                while ((i = Interlocked.Increment(ref next)) < items) Interlocked.Increment(ref runs[i]);
            });
            Assert.All(runs, count => Assert.Equal(1, count));
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public void A_failing_part_reaches_the_caller_and_the_team_keeps_working(int failing)
    {
        int arrived = 0;
        var error = Assert.Throws<InvalidOperationException>(() => KernelTeam.Run(2, p =>
        {
            Interlocked.Increment(ref arrived);
            var clock = System.Diagnostics.Stopwatch.StartNew();
            while (Volatile.Read(ref arrived) < 2 && clock.Elapsed < TimeSpan.FromSeconds(10)) Thread.SpinWait(64);
            if (p == failing) throw new InvalidOperationException($"part {p} failed");
        }));
        Assert.Equal($"part {failing} failed", error.Message);
        Assert.True(BothParticipantsArrive());
    }

    [Fact]
    public void A_job_started_inside_a_job_runs_on_its_calling_thread()
    {
        var inner = new int[2];
        KernelTeam.Run(2, p => KernelTeam.Run(2, q => Interlocked.Increment(ref inner[q])));
        Assert.Equal(0, inner[1]);
        Assert.InRange(inner[0], 1, 2);
    }

    [Fact]
    public void Jobs_from_several_threads_at_once_all_complete()
    {
        const int Items = 5000;
        var totals = new long[8];
        Parallel.For(0, totals.Length, new ParallelOptions { MaxDegreeOfParallelism = 4 }, t =>
        {
            for (int round = 0; round < 20; round++)
            {
                int next = -1;
                long sum = 0;
                KernelTeam.Run(2, _ =>
                {
                    int i;
                    long local = 0;
                    while ((i = Interlocked.Increment(ref next)) < Items) local += i;
                    Interlocked.Add(ref sum, local);
                });
                totals[t] += sum;
            }
        });
        Assert.All(totals, total => Assert.Equal(20L * Items * (Items - 1) / 2, total));
    }
}
