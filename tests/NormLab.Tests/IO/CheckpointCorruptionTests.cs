using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using NormLab.IO;
using NormLab.Registry;
using TorchSharp;
using static TorchSharp.torch;

namespace NormLab.Tests.IO;

/// <summary>
/// A damaged checkpoint is always a <see cref="CheckpointException"/> with a clear one-line message:
/// every truncation point and every single-byte corruption of a small file, and headers that carry a
/// valid hash but describe impossible entries (which must be rejected before anything is allocated).
/// </summary>
public class CheckpointCorruptionTests
{
    private static byte[] SmallCheckpoint()
    {
        manual_seed(5);
        var model = nn.Sequential(("fc", nn.Linear(2, 2)), ("norm", NormRegistry.Create("bn", 2)));
        var c = Checkpoint.Of(model);
        c.Sections["optimizer"] = new byte[] { 1, 2, 3, 4, 5 };
        c.Metadata["step"] = "3";
        using var stream = new MemoryStream();
        c.Write(stream);
        return stream.ToArray();
    }

    private static CheckpointException Rejects(byte[] bytes, string what)
    {
        try
        {
            Checkpoint.Parse(bytes, "c.ckpt");
        }
        catch (CheckpointException e)
        {
            Assert.False(string.IsNullOrWhiteSpace(e.Message), what);
            Assert.DoesNotContain('\n', e.Message);
            return e;
        }
        catch (Exception e)
        {
            Assert.Fail($"{what}: threw {e.GetType().Name} instead of CheckpointException: {e.Message}");
        }
        Assert.Fail($"{what}: parsed");
        return null!;
    }

    [Fact]
    public void Every_truncation_point_is_reported_as_truncated()
    {
        var bytes = SmallCheckpoint();
        Assert.True(bytes.Length > 300, $"{bytes.Length} bytes");
        for (int cut = 0; cut < bytes.Length; cut++)
        {
            var e = Rejects(bytes[..cut], $"cut at {cut}");
            Assert.True(e.Message.Contains("truncated") || (cut < 8 && e.Message.Contains("not a NormLab checkpoint")), $"cut at {cut}: {e.Message}");
        }
        Assert.Contains("longer than its header says", Rejects(bytes.Concat(new byte[] { 0 }).ToArray(), "one byte appended").Message);
    }

    [Fact]
    public void Every_single_byte_corruption_is_detected()
    {
        var bytes = SmallCheckpoint();
        int count = 0;
        for (int at = 0; at < bytes.Length; at++)
            foreach (byte mask in new byte[] { 0x01, 0x80, 0xFF })
            {
                var b = bytes.ToArray();
                b[at] ^= mask;
                Rejects(b, $"byte {at} ^ 0x{mask:X2}");
                count++;
            }
        Assert.Equal(3 * bytes.Length, count);
        Assert.Equal("3", Checkpoint.Parse(bytes, "c.ckpt").Metadata["step"]);
    }

    /// <summary>A checkpoint file with the given header JSON and payload and a valid SHA-256.</summary>
    private static byte[] Forge(string header, byte[] payload)
    {
        var h = Encoding.UTF8.GetBytes(header);
        var body = "NLCKPT01"u8.ToArray().Concat(new byte[4]).Concat(h).Concat(payload).ToArray();
        BinaryPrimitives.WriteInt32LittleEndian(body.AsSpan(8), h.Length);
        return body.Concat(SHA256.HashData(body)).ToArray();
    }

    private static string Header(string entries, string sections = "{}", long payload = 16, string metadata = "{}") =>
        $"{{\"Entries\":[{entries}],\"Sections\":{sections},\"Metadata\":{metadata},\"PayloadBytes\":{payload}}}";

    private static string Entry(string shape, string dtype = "Float64", long offset = 0, long bytes = 16) =>
        $"{{\"Key\":\"w\",\"DType\":\"{dtype}\",\"Shape\":{shape},\"Offset\":{offset},\"Bytes\":{bytes}}}";

    public static TheoryData<string, string> ForgedHeaders => new()
    {
        { Header(Entry("[2]")), "" },
        { Header(Entry("null")), "corrupt entry 'w'" },
        { Header(Entry("[-2]")), "negative size -2" },
        { Header(Entry("[-1, -16]")), "negative size" },
        { Header(Entry("[1099511627776, 1099511627776]")), "is too large" },
        { Header(Entry("[4611686018427387904, 4, 0]", bytes: 0)), "is too large" },
        { Header(Entry("[65536, 65536, 65536, 0]", bytes: 0)), "" },
        { Header(Entry("[65536, 65536, 65536]")), "has 16 bytes" },
        { Header(Entry("[3]")), "has 16 bytes" },
        { Header(Entry("[2]", dtype: "999")), "dtype '999'" },
        { Header(Entry("[2]", dtype: "Nope")), "dtype 'Nope'" },
        { Header(Entry("[2]", offset: 9223372036854775807)), "outside the 16-byte payload" },
        { Header(Entry("[2]", offset: -8)), "outside the 16-byte payload" },
        { Header(Entry("[2]", offset: 8)), "outside the 16-byte payload" },
        { Header("null"), "corrupt entry" },
        { "{\"Entries\":null,\"Sections\":{},\"Metadata\":{},\"PayloadBytes\":16}", "corrupt header" },
        { "{\"Entries\":[],\"Sections\":null,\"Metadata\":{},\"PayloadBytes\":16}", "corrupt header" },
        { "{\"Entries\":[],\"Sections\":{},\"PayloadBytes\":16}", "corrupt header" },
        { "[1, 2]", "corrupt header" },
        { "null", "corrupt header" },
        { Header("", sections: "{\"opt\":[4, 100]}"), "corrupt section 'opt'" },
        { Header("", sections: "{\"opt\":[-4, 4]}"), "corrupt section 'opt'" },
        { Header("", sections: "{\"opt\":[1]}"), "corrupt section 'opt'" },
        { Header("", sections: "{\"opt\":null}"), "corrupt section 'opt'" },
        { Header("", sections: "{\"opt\":[9223372036854775807, 9223372036854775807]}"), "corrupt section 'opt'" },
        { Header("", payload: -16), "corrupt header" },
    };

    /// <summary>Hand-made headers with a valid hash: impossible entries are rejected before any allocation (an empty expectation = it parses).</summary>
    [Theory]
    [MemberData(nameof(ForgedHeaders))]
    public void Forged_headers_with_a_valid_hash_are_validated_before_allocating(string header, string expected)
    {
        var bytes = Forge(header, new byte[16]);
        if (expected.Length == 0)
        {
            var c = Checkpoint.Parse(bytes, "c.ckpt");
            Assert.All(c.Tensors.Values, t => Assert.True(t.numel() * t.element_size() <= 16));
            return;
        }
        Assert.Contains(expected, Rejects(bytes, header).Message);
    }
}
