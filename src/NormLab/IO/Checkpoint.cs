using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace NormLab.IO;

/// <summary>
/// A training checkpoint: named tensors (a module's state dict), opaque binary sections (an optimizer's
/// state) and string metadata, in one file: "NLCKPT01", a JSON header, the payload, and a SHA-256 of all
/// of it. Writes are atomic; reads verify the length and the hash before parsing, so a truncated or
/// corrupted file is reported as such and never half-loaded.
/// </summary>
public sealed class Checkpoint
{
    private static readonly byte[] Magic = "NLCKPT01"u8.ToArray();
    private const int HashBytes = 32;

    /// <summary>Named tensors, typically a module's state dict (copied to CPU when saved).</summary>
    public Dictionary<string, Tensor> Tensors { get; } = new();

    /// <summary>Opaque sections, such as an optimizer's serialized state.</summary>
    public Dictionary<string, byte[]> Sections { get; } = new();

    /// <summary>String metadata (step counts, configuration, RNG seeds).</summary>
    public Dictionary<string, string> Metadata { get; } = new();

    /// <summary>A checkpoint of a module's state dict (tensors are copied).</summary>
    public static Checkpoint Of(nn.Module module)
    {
        var c = new Checkpoint();
        foreach (var (k, v) in module.state_dict()) c.Tensors[k] = v.detach().cpu().clone();
        return c;
    }

    /// <summary>Adds an optimizer's state (TorchSharp's own binary format) as the section "optimizer".</summary>
    public Checkpoint WithOptimizer(OptimizerHelper optimizer, string section = "optimizer")
    {
        using var stream = new MemoryStream();
        using (var writer = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true)) optimizer.save_state_dict(writer);
        Sections[section] = stream.ToArray();
        return this;
    }

    /// <summary>Writes the checkpoint atomically.</summary>
    public void Save(string path) => AtomicFile.Write(path, Write);

    /// <summary>Writes the checkpoint to a stream.</summary>
    public void Write(Stream output)
    {
        var entries = new List<Entry>();
        long offset = 0;
        var blobs = new List<byte[]>();
        foreach (var (key, t) in Tensors.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            var c = t.contiguous();
            var bytes = c.numel() == 0 ? Array.Empty<byte>() : c.bytes.ToArray();
            entries.Add(new Entry(key, t.dtype.ToString(), t.shape, offset, bytes.LongLength));
            blobs.Add(bytes);
            offset += bytes.LongLength;
        }
        var sections = new Dictionary<string, long[]>();
        foreach (var (name, bytes) in Sections.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            sections[name] = new[] { offset, bytes.LongLength };
            blobs.Add(bytes);
            offset += bytes.LongLength;
        }
        var header = JsonSerializer.SerializeToUtf8Bytes(new Header(entries, sections, Metadata, offset));
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        void Put(byte[] b) { output.Write(b); hash.AppendData(b); }
        Put(Magic);
        var length = new byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(length, header.Length);
        Put(length);
        Put(header);
        foreach (var b in blobs) Put(b);
        output.Write(hash.GetHashAndReset());
    }

    /// <summary>Reads and verifies a checkpoint file.</summary>
    /// <exception cref="CheckpointException">the file is not a checkpoint, is truncated or corrupted.</exception>
    public static Checkpoint Load(string path)
    {
        byte[] bytes;
        try { bytes = File.ReadAllBytes(path); }
        catch (FileNotFoundException) { throw new CheckpointException($"checkpoint {path} does not exist"); }
        return Parse(bytes, path);
    }

    /// <summary>Parses and verifies checkpoint bytes.</summary>
    public static Checkpoint Parse(byte[] bytes, string name)
    {
        if (bytes.Length < Magic.Length + 4 + HashBytes || !bytes.AsSpan(0, Magic.Length).SequenceEqual(Magic))
            throw new CheckpointException(bytes.Length < Magic.Length || !bytes.AsSpan(0, Math.Min(bytes.Length, Magic.Length)).SequenceEqual(Magic.AsSpan(0, Math.Min(bytes.Length, Magic.Length)))
                ? $"{name} is not a NormLab checkpoint" : $"{name} is truncated ({bytes.Length} bytes)");
        int headerLength = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(Magic.Length));
        long start = Magic.Length + 4L + headerLength;
        if (headerLength < 2 || start + HashBytes > bytes.Length)
            throw new CheckpointException($"{name} is truncated: its header needs {start + HashBytes} bytes, the file has {bytes.Length}");
        Header? header;
        try { header = JsonSerializer.Deserialize<Header>(bytes.AsSpan(Magic.Length + 4, headerLength)); }
        catch (JsonException) { header = null; }
        if (header is null || header.Entries is null || header.Sections is null || header.Metadata is null || header.PayloadBytes < 0)
            throw new CheckpointException($"{name} has a corrupt header");
        long expected = start + header.PayloadBytes + HashBytes;
        if (bytes.Length != expected)
            throw new CheckpointException($"{name} is {(bytes.Length < expected ? "truncated" : "longer than its header says")}: expected {expected} bytes, the file has {bytes.Length}");
        var actual = SHA256.HashData(bytes.AsSpan(0, bytes.Length - HashBytes));
        if (!actual.AsSpan().SequenceEqual(bytes.AsSpan(bytes.Length - HashBytes)))
            throw new CheckpointException($"{name} is corrupted: its SHA-256 does not match");
        // A header with a valid hash may still be hand-made or written by a buggy tool: validate every
        // entry against the payload before allocating anything (LibTorch aborts on some bad shapes).
        var c = new Checkpoint();
        foreach (var e in header.Entries)
        {
            var dtype = ValidEntry(e, header.PayloadBytes, name);
            var t = empty(e.Shape, dtype);
            if (e.Bytes > 0) t.bytes = bytes.AsSpan((int)(start + e.Offset), (int)e.Bytes);
            c.Tensors[e.Key] = t;
        }
        foreach (var (section, range) in header.Sections)
        {
            if (section is null || range is null || range.Length != 2 || range[0] < 0 || range[1] < 0 || range[1] > header.PayloadBytes - range[0])
                throw new CheckpointException($"{name} has a corrupt section '{section}': range [{(range is null ? "null" : string.Join(", ", range))}] is outside the {header.PayloadBytes}-byte payload");
            c.Sections[section] = bytes.AsSpan((int)(start + range[0]), (int)range[1]).ToArray();
        }
        foreach (var (k, v) in header.Metadata) c.Metadata[k] = v;
        return c;
    }

    /// <summary>
    /// Copies the tensors into a module's state dict. Every key must match in both directions with equal
    /// shapes; otherwise nothing is copied and the error lists the missing, unexpected and mismatched keys.
    /// </summary>
    /// <exception cref="ArgumentException">keys or shapes that do not match.</exception>
    public void LoadInto(nn.Module module)
    {
        var state = module.state_dict();
        var missing = state.Keys.Where(k => !Tensors.ContainsKey(k)).ToList();
        var unexpected = Tensors.Keys.Where(k => !state.ContainsKey(k)).ToList();
        var mismatched = state.Where(kv => Tensors.TryGetValue(kv.Key, out var t) && !t.shape.SequenceEqual(kv.Value.shape))
            .Select(kv => $"{kv.Key} (checkpoint [{string.Join(", ", Tensors[kv.Key].shape)}], module [{string.Join(", ", kv.Value.shape)}])").ToList();
        if (missing.Count + unexpected.Count + mismatched.Count > 0)
            throw new ArgumentException("checkpoint does not match the module: " + string.Join("; ", new[]
            {
                missing.Count > 0 ? $"missing keys: {string.Join(", ", missing)}" : null,
                unexpected.Count > 0 ? $"unexpected keys: {string.Join(", ", unexpected)}" : null,
                mismatched.Count > 0 ? $"shape mismatches: {string.Join(", ", mismatched)}" : null,
            }.OfType<string>()), "checkpoint");
        using var _ = no_grad();
        foreach (var (k, v) in state) v.copy_(Tensors[k].to(v.dtype, v.device));
    }

    /// <summary>Restores an optimizer's state from the section written by <see cref="WithOptimizer"/>.</summary>
    /// <exception cref="ArgumentException">the section is missing.</exception>
    public void LoadInto(OptimizerHelper optimizer, string section = "optimizer")
    {
        if (!Sections.TryGetValue(section, out var bytes))
            throw new ArgumentException($"checkpoint has no '{section}' section; it has: {(Sections.Count == 0 ? "none" : string.Join(", ", Sections.Keys))}", "checkpoint");
        using var reader = new BinaryReader(new MemoryStream(bytes));
        optimizer.load_state_dict(reader);
    }

    /// <summary>Checks an entry's dtype, shape and byte range against the payload, without allocating; returns its dtype.</summary>
    private static ScalarType ValidEntry(Entry? e, long payloadBytes, string name)
    {
        if (e is null || e.Key is null || e.Shape is null)
            throw new CheckpointException($"{name} has a corrupt entry '{e?.Key}': a key, dtype and shape are required");
        if (e.DType is null || !Enum.TryParse<ScalarType>(e.DType, out var dtype) || !Enum.IsDefined(dtype) || char.IsDigit(e.DType[0]) || !ElementSizes.TryGetValue(dtype, out long size))
            throw new CheckpointException($"{name} has a corrupt entry '{e.Key}': dtype '{e.DType}' is not one of {string.Join(", ", ElementSizes.Keys)}");
        if (e.Offset < 0 || e.Bytes < 0 || e.Bytes > payloadBytes - e.Offset)
            throw new CheckpointException($"{name} has a corrupt entry '{e.Key}': bytes [{e.Offset}, +{e.Bytes}) are outside the {payloadBytes}-byte payload");
        if (e.Shape.Length > 64)
            throw new CheckpointException($"{name} has a corrupt entry '{e.Key}': rank {e.Shape.Length} exceeds 64");
        long count = 1;
        foreach (long d in e.Shape)
        {
            if (d < 0)
                throw new CheckpointException($"{name} has a corrupt entry '{e.Key}': negative size {d} in shape [{string.Join(", ", e.Shape)}]");
            if (d > int.MaxValue)
                throw new CheckpointException($"{name} has a corrupt entry '{e.Key}': size {d} in shape [{string.Join(", ", e.Shape)}] is too large");
            count = d == 0 || count == 0 ? 0 : count > e.Bytes / d ? e.Bytes + 1 : count * d;
        }
        if (count * size != e.Bytes)
            throw new CheckpointException($"{name}: entry '{e.Key}' of shape [{string.Join(", ", e.Shape)}] has {e.Bytes} bytes");
        return dtype;
    }

    private static readonly Dictionary<ScalarType, long> ElementSizes = new()
    {
        [ScalarType.Byte] = 1, [ScalarType.Int8] = 1, [ScalarType.Bool] = 1, [ScalarType.Int16] = 2, [ScalarType.Int32] = 4,
        [ScalarType.Int64] = 8, [ScalarType.Float16] = 2, [ScalarType.BFloat16] = 2, [ScalarType.Float32] = 4, [ScalarType.Float64] = 8,
        [ScalarType.ComplexFloat32] = 8, [ScalarType.ComplexFloat64] = 16,
    };

    private sealed record Entry(string Key, string DType, long[] Shape, long Offset, long Bytes);

    private sealed record Header(List<Entry> Entries, Dictionary<string, long[]> Sections, Dictionary<string, string> Metadata, long PayloadBytes);
}

/// <summary>A checkpoint file that is missing, truncated, corrupted or not a checkpoint.</summary>
public sealed class CheckpointException(string message) : IOException(message);
