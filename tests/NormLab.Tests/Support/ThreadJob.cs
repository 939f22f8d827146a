using NormLab.Distributed;

namespace NormLab.Tests.Support;

/// <summary>
/// An in-process stand-in for a job of P processes: P threads, each with a <see cref="Communicator"/>
/// whose collectives meet at a barrier and sum in rank order (so every rank gets the same bits).
/// Used to test synchronized layers without mpirun; the mpirun tests check the real transport.
/// </summary>
public static class ThreadJob
{
    /// <summary>Runs <paramref name="work"/> on P threads, each inside <see cref="Communicator.Use"/> of its rank; returns the results by rank.</summary>
    public static T[] Run<T>(int p, Func<Communicator, T> work)
    {
        var group = new Group(p);
        var results = new T[p];
        var errors = new Exception?[p];
        var threads = Enumerable.Range(0, p).Select(r => new Thread(() =>
        {
            var rank = new Member(group, r);
            try
            {
                using var _ = Communicator.Use(rank);
                results[r] = work(rank);
            }
            catch (Exception e)
            {
                errors[r] = e;
                group.Barrier.Dispose();
            }
        }, 64 << 20)).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => Assert.True(t.Join(TimeSpan.FromSeconds(60)), "a rank thread did not finish within 60 s"));
        if (errors.FirstOrDefault(e => e is not null and not ObjectDisposedException and not BarrierPostPhaseException) is { } first)
            throw new InvalidOperationException($"rank failed: {first.Message}", first);
        if (errors.FirstOrDefault(e => e is not null) is { } any) throw new InvalidOperationException($"rank failed: {any.Message}", any);
        return results;
    }

    private sealed class Group(int size)
    {
        public readonly int Size = size;
        public readonly Barrier Barrier = new(size);
        public readonly object?[] Slots = new object?[size];

        public void Meet()
        {
            if (!Barrier.SignalAndWait(TimeSpan.FromSeconds(30)))
                throw new TimeoutException("a rank thread did not reach the collective within 30 s");
        }
    }

    private sealed class Member(Group group, int rank) : Communicator
    {
        public override int Rank => rank;
        public override int Size => group.Size;

        public override void AllReduceSum(Span<double> buffer) => Sum(buffer);

        public override void AllReduceSum(Span<float> buffer) => Sum(buffer);

        /// <summary>Sums in rank order, so every rank gets the same bits.</summary>
        private void Sum<T>(Span<T> buffer) where T : System.Numerics.INumber<T>
        {
            var all = Exchange(buffer.ToArray());
            for (int i = 0; i < buffer.Length; i++)
            {
                T s = T.Zero;
                foreach (var a in all) s += ((T[])a)[i];
                buffer[i] = s;
            }
            group.Meet();
        }

        public override void Broadcast(Span<byte> buffer, int root = 0)
        {
            var all = Exchange(buffer.ToArray());
            ((byte[])all[root]).CopyTo(buffer);
            group.Meet();
        }

        public override void Barrier()
        {
            group.Meet();
        }

        private object[] Exchange(object mine)
        {
            group.Slots[rank] = mine;
            group.Meet();
            return group.Slots.Select(s => s!).ToArray();
        }
    }
}
