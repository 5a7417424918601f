//! Test data shared by the integration tests: a batch with every supported
//! Arrow type, nulls at every level, field metadata and a blob column.
#![allow(dead_code)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use arrow_array::builder::*;
use arrow_array::types::*;
use arrow_array::*;
use arrow_buffer::{NullBuffer, OffsetBuffer, i256};
use arrow_schema::{DataType, Field, Fields, IntervalUnit, Schema, TimeUnit};
use half::f16;
use std::collections::HashMap;
use std::sync::Arc;

/// Deterministic pseudo-random numbers (xorshift) so tests need no seed plumbing.
pub struct Rng(pub u64);
impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn nulls(n: usize, every: usize, phase: usize) -> Option<NullBuffer> {
    Some(NullBuffer::from_iter(
        (0..n).map(|i| !(i + phase).is_multiple_of(every)),
    ))
}

fn meta(k: &str, v: &str) -> HashMap<String, String> {
    HashMap::from([(k.to_string(), v.to_string())])
}

/// A batch of `n` rows covering every supported type.
pub fn all_types_batch(n: usize, seed: u64) -> RecordBatch {
    let mut rng = Rng(seed | 1);
    let mut cols: Vec<(Field, ArrayRef)> = Vec::new();
    let mut add = |field: Field, array: ArrayRef| cols.push((field, array));
    macro_rules! prim {
        ($name:expr, $t:ty, $f:expr) => {{
            let a: PrimitiveArray<$t> = (0..n).map(|i| if i % 7 == 3 { None } else { Some($f(i)) }).collect();
            add(Field::new($name, a.data_type().clone(), true), Arc::new(a));
        }};
    }
    prim!("i8", Int8Type, |i: usize| (i as i64 % 200 - 100) as i8);
    prim!("i16", Int16Type, |i: usize| (i as i64 * 37 - 5000) as i16);
    prim!("i32", Int32Type, |i: usize| (i as i32).wrapping_mul(-7919));
    prim!("i64_sorted", Int64Type, |i: usize| i as i64 * 1000 + 1_000_000_000);
    let r: Vec<i64> = (0..n).map(|_| rng.next() as i64).collect();
    prim!("i64_random", Int64Type, |i: usize| r[i]);
    prim!("u8", UInt8Type, |i: usize| (i % 256) as u8);
    prim!("u16", UInt16Type, |i: usize| (i * 3 % 65536) as u16);
    prim!("u32", UInt32Type, |i: usize| (i as u32).wrapping_mul(2654435761));
    prim!("u64", UInt64Type, |i: usize| u64::MAX - i as u64);
    prim!("f16", Float16Type, |i: usize| f16::from_f32(i as f32 * 0.25));
    prim!("f32", Float32Type, |i: usize| i as f32 / 3.0);
    let rf: Vec<f64> = (0..n).map(|_| rng.next() as f64 / u64::MAX as f64).collect();
    prim!("f64", Float64Type, |i: usize| rf[i]);
    prim!("date32", Date32Type, |i: usize| 19000 + i as i32);
    prim!("date64", Date64Type, |i: usize| 1_600_000_000_000
        + i as i64 * 86_400_000);
    prim!("time32s", Time32SecondType, |i: usize| (i % 86400) as i32);
    prim!("time32ms", Time32MillisecondType, |i: usize| (i % 86400) as i32 * 1000);
    prim!("time64us", Time64MicrosecondType, |i: usize| i as i64 * 17);
    prim!("time64ns", Time64NanosecondType, |i: usize| i as i64 * 1000);
    prim!("dur_s", DurationSecondType, |i: usize| i as i64 - 50);
    prim!("dur_ns", DurationNanosecondType, |i: usize| i as i64 * 999);
    prim!("interval_ym", IntervalYearMonthType, |i: usize| i as i32 % 24);
    let ts: TimestampMicrosecondArray = (0..n)
        .map(|i| (i % 5 != 0).then_some(1_700_000_000_000_000 + i as i64))
        .collect();
    add(
        Field::new("ts_naive", ts.data_type().clone(), true),
        Arc::new(ts.clone()),
    );
    let tz = ts.with_timezone("Europe/Paris");
    add(Field::new("ts_tz", tz.data_type().clone(), true), Arc::new(tz));
    let tsn = TimestampNanosecondArray::from_iter_values((0..n).map(|i| i as i64)).with_timezone("+05:30");
    add(Field::new("ts_ns_tz", tsn.data_type().clone(), false), Arc::new(tsn));
    let d128 = Decimal128Array::from_iter((0..n).map(|i| (i % 9 != 0).then_some(i as i128 * 12345 - 99)))
        .with_precision_and_scale(38, 4)
        .unwrap();
    add(Field::new("dec128", d128.data_type().clone(), true), Arc::new(d128));
    let d256 = Decimal256Array::from_iter((0..n).map(|i| (i % 4 != 1).then(|| i256::from_i128(i as i128 * -7))))
        .with_precision_and_scale(76, 10)
        .unwrap();
    add(Field::new("dec256", d256.data_type().clone(), true), Arc::new(d256));
    let b = BooleanArray::from_iter((0..n).map(|i| (i % 11 != 0).then_some(i % 3 == 0)));
    add(Field::new("bool", DataType::Boolean, true), Arc::new(b));
    let s: StringArray = (0..n)
        .map(|i| (i % 6 != 2).then(|| format!("row {i} {}", "x".repeat(i % 30))))
        .collect();
    add(
        Field::new("utf8", DataType::Utf8, true).with_metadata(meta("note", "text")),
        Arc::new(s),
    );
    let low: LargeStringArray = (0..n).map(|i| Some(["red", "green", "blue"][i % 3])).collect();
    add(
        Field::new("large_utf8_lowcard", DataType::LargeUtf8, false),
        Arc::new(low),
    );
    let bin: BinaryArray = (0..n).map(|i| (i % 8 != 0).then(|| vec![i as u8; i % 17])).collect();
    add(Field::new("binary", DataType::Binary, true), Arc::new(bin));
    let lbin: LargeBinaryArray = (0..n).map(|i| Some(vec![(i * 7) as u8; i % 5])).collect();
    add(Field::new("large_binary", DataType::LargeBinary, true), Arc::new(lbin));
    let fsb = FixedSizeBinaryArray::try_from_sparse_iter_with_size(
        (0..n).map(|i| (i % 10 != 0).then_some([(i % 256) as u8; 16])),
        16,
    )
    .unwrap();
    add(Field::new("uuid", DataType::FixedSizeBinary(16), true), Arc::new(fsb));
    // Embedding vectors: flat storage (128 × f32 = 512 bytes), plus narrow and quantized ones.
    for (name, dim) in [("vec_f32_128", 128usize), ("vec_f32_8", 8)] {
        let values = Float32Array::from_iter_values((0..n * dim).map(|i| ((i * 31) % 1000) as f32 / 7.0));
        let field = Arc::new(Field::new("item", DataType::Float32, true));
        let fsl = FixedSizeListArray::new(field, dim as i32, Arc::new(values), nulls(n, 13, 0));
        add(Field::new(name, fsl.data_type().clone(), true), Arc::new(fsl));
    }
    let f16v = Float16Array::from_iter_values((0..n * 64).map(|i| f16::from_f32(i as f32)));
    let fsl = FixedSizeListArray::new(
        Arc::new(Field::new("item", DataType::Float16, false)),
        64,
        Arc::new(f16v),
        None,
    );
    add(Field::new("vec_f16_64", fsl.data_type().clone(), false), Arc::new(fsl));
    let f64v = Float64Array::from_iter_values((0..n * 40).map(|i| i as f64));
    let fsl = FixedSizeListArray::new(
        Arc::new(Field::new("item", DataType::Float64, false)),
        40,
        Arc::new(f64v),
        None,
    );
    add(Field::new("vec_f64_40", fsl.data_type().clone(), true), Arc::new(fsl));
    for (name, dt) in [("vec_u8_32", DataType::UInt8), ("vec_i8_96", DataType::Int8)] {
        let dim = if dt == DataType::UInt8 { 32 } else { 96 };
        let values: ArrayRef = if dt == DataType::UInt8 {
            Arc::new(UInt8Array::from_iter_values((0..n * dim).map(|i| (i % 251) as u8)))
        } else {
            Arc::new(Int8Array::from_iter_values((0..n * dim).map(|i| (i % 251) as i8)))
        };
        let fsl = FixedSizeListArray::new(Arc::new(Field::new("item", dt, false)), dim as i32, values, None);
        add(Field::new(name, fsl.data_type().clone(), true), Arc::new(fsl));
    }
    // A vector column with null items inside non-null vectors.
    let values = Float32Array::from_iter((0..n * 300).map(|i| (i % 97 != 0).then_some(i as f32)));
    let fsl = FixedSizeListArray::new(
        Arc::new(Field::new("item", DataType::Float32, true)),
        300,
        Arc::new(values),
        None,
    );
    add(
        Field::new("vec_item_nulls", fsl.data_type().clone(), true),
        Arc::new(fsl),
    );
    // List<Int32> and LargeList<Utf8>.
    let mut lb = ListBuilder::new(Int32Builder::new());
    for i in 0..n {
        if i % 9 == 4 {
            lb.append_null();
        } else {
            for k in 0..(i % 5) {
                lb.values().append_option((k != 2).then_some((i * k) as i32));
            }
            lb.append(true);
        }
    }
    let list = lb.finish();
    add(Field::new("list_i32", list.data_type().clone(), true), Arc::new(list));
    let mut llb = LargeListBuilder::new(StringBuilder::new());
    for i in 0..n {
        for k in 0..(i % 3) {
            llb.values().append_value(format!("t{k}"));
        }
        llb.append(i % 10 != 7);
    }
    let llist = llb.finish();
    add(
        Field::new("large_list_utf8", llist.data_type().clone(), true),
        Arc::new(llist),
    );
    // Multivectors: List<FixedSizeList<f32, 16>>.
    let mut mv = ListBuilder::new(FixedSizeListBuilder::new(Float32Builder::new(), 16));
    for i in 0..n {
        for t in 0..(i % 4) {
            for d in 0..16 {
                mv.values().values().append_value((i * 100 + t * 16 + d) as f32);
            }
            mv.values().append(true);
        }
        mv.append(i % 12 != 5);
    }
    let mv = mv.finish();
    add(Field::new("multivector", mv.data_type().clone(), true), Arc::new(mv));
    // Struct with nested struct, list and nulls at each level.
    let inner_fields = Fields::from(vec![
        Field::new("x", DataType::Float64, true),
        Field::new(
            "tags",
            DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
            true,
        ),
    ]);
    let x = Float64Array::from_iter((0..n).map(|i| (i % 4 != 0).then_some(i as f64 * 0.5)));
    let mut tags = ListBuilder::new(StringBuilder::new());
    for i in 0..n {
        for k in 0..(i % 3) {
            tags.values().append_option((k != 1).then(|| format!("tag{}", i % 7)));
        }
        tags.append(i % 6 != 0);
    }
    let inner = StructArray::new(
        inner_fields.clone(),
        vec![Arc::new(x), Arc::new(tags.finish())],
        nulls(n, 5, 1),
    );
    let outer_fields = Fields::from(vec![
        Field::new("id", DataType::Int32, false),
        Field::new("name", DataType::Utf8, true),
        Field::new("inner", DataType::Struct(inner_fields), true).with_metadata(meta("level", "2")),
    ]);
    let ids = Int32Array::from_iter_values(0..n as i32);
    let names: StringArray = (0..n).map(|i| (i % 3 != 0).then(|| format!("n{i}"))).collect();
    let outer = StructArray::new(
        outer_fields,
        vec![Arc::new(ids), Arc::new(names), Arc::new(inner)],
        nulls(n, 8, 3),
    );
    add(Field::new("nested", outer.data_type().clone(), true), Arc::new(outer));
    // FixedSizeList of strings (a non-flat fixed-size list) and a map.
    let mut fls = FixedSizeListBuilder::new(StringBuilder::new(), 2);
    for i in 0..n {
        fls.values().append_value(format!("a{i}"));
        fls.values().append_option((i % 2 == 0).then_some("b"));
        fls.append(i % 7 != 1);
    }
    let fls = fls.finish();
    add(Field::new("fsl_utf8", fls.data_type().clone(), true), Arc::new(fls));
    let mut mb = MapBuilder::new(None, StringBuilder::new(), Int64Builder::new());
    for i in 0..n {
        for k in 0..(i % 3) {
            mb.keys().append_value(format!("k{k}"));
            mb.values().append_value((i + k) as i64);
        }
        mb.append(i % 9 != 8).unwrap();
    }
    let map = mb.finish();
    add(Field::new("map", map.data_type().clone(), true), Arc::new(map));
    // Dictionary-encoded and view inputs are accepted and round trip.
    let dict: DictionaryArray<Int32Type> = (0..n)
        .map(|i| (i % 5 != 0).then_some(["cat", "dog", "emu"][i % 3]))
        .collect();
    add(Field::new("dict", dict.data_type().clone(), true), Arc::new(dict));
    let view = StringViewArray::from_iter((0..n).map(|i| Some(format!("view string number {i}"))));
    add(Field::new("utf8_view", DataType::Utf8View, true), Arc::new(view));
    let nulls_col = NullArray::new(n);
    add(Field::new("null", DataType::Null, true), Arc::new(nulls_col));
    // A blob column (Lance's marker) with nulls, empty values and sizes up to ~20 KB.
    let blobs: LargeBinaryArray = (0..n)
        .map(|i| match i % 10 {
            0 => None,
            1 => Some(Vec::new()),
            _ => Some((0..(i * 97 % 20_000)).map(|k| (k * 31 + i) as u8).collect::<Vec<u8>>()),
        })
        .collect();
    add(
        Field::new("blob", DataType::LargeBinary, true).with_metadata(meta("lance-encoding:blob", "true")),
        Arc::new(blobs),
    );
    let _ = (
        TimeUnit::Second,
        IntervalUnit::YearMonth,
        OffsetBuffer::<i32>::new_zeroed(0),
    );
    let (fields, arrays): (Vec<Field>, Vec<ArrayRef>) = cols.into_iter().unzip();
    let schema = Schema::new_with_metadata(fields, meta("origin", "pilum tests"));
    RecordBatch::try_new(Arc::new(schema), arrays).unwrap()
}

/// Asserts two batches are equal, naming the first column and row that differ.
pub fn assert_batches_eq(got: &RecordBatch, want: &RecordBatch, context: &str) {
    assert_eq!(got.schema(), want.schema(), "{context}: schemas differ");
    assert_eq!(got.num_rows(), want.num_rows(), "{context}: row counts differ");
    for (i, field) in want.schema().fields().iter().enumerate() {
        let (g, w) = (got.column(i), want.column(i));
        if g.to_data() != w.to_data() && g.as_ref() != w.as_ref() {
            let row = (0..w.len()).find(|&r| g.slice(r, 1).as_ref() != w.slice(r, 1).as_ref());
            let show = |a: &ArrayRef, r: Option<usize>| r.map(|r| format!("{:?}", a.slice(r, 1)));
            panic!(
                "{context}: column {:?} differs at row {row:?}: got {:?}, want {:?}",
                field.name(),
                show(g, row),
                show(w, row)
            );
        }
    }
}

/// `n` rows of documentation-like text (a shared licence line, then words
/// from a small vocabulary) with a null every 17th row: large enough pages
/// of it get a zstd dictionary.
pub fn text_batch(n: usize, seed: u64) -> RecordBatch {
    const WORDS: [&str; 16] = [
        "the", "dataset", "column", "returns", "a", "table", "of", "rows", "vector", "index", "query", "scan",
        "filter", "fragment", "schema", "page",
    ];
    let mut rng = Rng(seed);
    let text: StringArray = (0..n)
        .map(|row| {
            (row % 17 != 5).then(|| {
                let mut s = format!("Licensed under the Apache License, Version 2.0. Section {row}:");
                for _ in 0..30 + rng.below(40) {
                    s.push(' ');
                    s.push_str(WORDS[rng.below(WORDS.len() as u64) as usize]);
                }
                s
            })
        })
        .collect();
    let schema = Schema::new(vec![Field::new("text", DataType::Utf8, true)]);
    RecordBatch::try_new(Arc::new(schema), vec![Arc::new(text)]).unwrap()
}
