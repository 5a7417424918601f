//! Zero-copy schema evolution: new columns go into new data files, drops and
//! renames touch only the manifest, and a cast rewrites only its column.

use crate::dataset::Dataset;
use crate::error::{Result, TableError};
use crate::expr::CompiledExpr;
use crate::fragment::FragmentReader;
use crate::proto::{self, Operation};
use crate::schema::TableSchema;
use crate::transaction::{Change, Transaction};
use crate::write::{BatchStream, OpenFile};
use arrow_array::{ArrayRef, RecordBatch, UInt32Array};
use arrow_row::{RowConverter, SortField};
use arrow_schema::{DataType, Field, FieldRef, Fields, SchemaRef};
use std::collections::HashMap;
use std::sync::Arc;

/// Rows read and written at a time while computing new columns.
const CHUNK_ROWS: u64 = 65_536;

/// Columns to add.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum NewColumns {
    /// `(name, SQL expression over existing columns)` pairs, evaluated by DataFusion.
    Sql(Vec<(String, String)>),
    /// All-null columns (metadata only, no data written).
    AllNulls(Vec<Field>),
}

/// One change of `alter_columns`.
#[derive(Debug, Clone, Default)]
pub struct ColumnAlteration {
    /// Column path; nested struct fields as `a.b`.
    pub path: String,
    /// New name.
    pub rename: Option<String>,
    /// New nullability.
    pub nullable: Option<bool>,
    /// New type (top-level columns; rewrites only this column).
    pub data_type: Option<DataType>,
}

impl Dataset {
    /// Adds columns without rewriting existing data files.
    pub async fn add_columns(&mut self, columns: NewColumns) -> Result<()> {
        self.check_branch_live().await?;
        let schema = self.manifest.schema.clone();
        match columns {
            NewColumns::AllNulls(fields) => {
                let fields: Vec<Field> = fields.into_iter().map(|f| f.with_nullable(true)).collect();
                let new_schema = schema.with_added(&fields, self.manifest.max_field_id)?;
                self.commit_schema(Operation::AddColumns, new_schema, HashMap::new(), Vec::new())
                    .await
            }
            NewColumns::Sql(expressions) => {
                let mut compiled = Vec::with_capacity(expressions.len());
                let mut fields = Vec::with_capacity(expressions.len());
                for (name, sql) in &expressions {
                    let expr = CompiledExpr::compile(sql, schema.arrow())?;
                    fields.push(Field::new(name, crate::expr::storage_type(expr.data_type()?), true));
                    compiled.push(expr);
                }
                let new_schema = schema.with_added(&fields, self.manifest.max_field_id)?;
                let added = new_schema.fields_from(schema.arrow().fields().len());
                // Every column any expression reads, in table order.
                let inputs: std::collections::HashSet<String> = compiled.iter().flat_map(|e| e.columns()).collect();
                let input_names: Vec<&String> = schema
                    .arrow()
                    .fields()
                    .iter()
                    .map(|f| f.name())
                    .filter(|n| inputs.contains(*n))
                    .collect();
                let input_schema = schema.project(&input_names)?;
                let files = self
                    .write_column_files(&input_schema, &added, |batch| {
                        compiled.iter().map(|e| e.evaluate(batch)).collect()
                    })
                    .await?;
                self.commit_schema(Operation::AddColumns, new_schema, files, Vec::new())
                    .await
            }
        }
    }

    /// Adds the columns of `data` joined on `left_on` = `right_on` (rows with
    /// no match get nulls). `data` is held in memory.
    pub async fn merge(&mut self, schema: SchemaRef, data: BatchStream, left_on: &str, right_on: &str) -> Result<()> {
        let batches = super::collect(data).await?;
        let source = arrow_select::concat::concat_batches(&schema, &batches)?;
        let key_index = schema
            .index_of(right_on)
            .map_err(|_| TableError::ColumnNotFound { name: right_on.into() })?;
        let table = self.manifest.schema.clone();
        let left_type = table.arrow().field(table.index_of(left_on)?).data_type().clone();
        if &left_type != schema.field(key_index).data_type() {
            return Err(TableError::SchemaMismatch {
                reason: format!(
                    "join keys differ in type: {left_type} vs {}",
                    schema.field(key_index).data_type()
                ),
            });
        }
        let converter = RowConverter::new(vec![SortField::new(left_type)])?;
        let source_keys = converter.convert_columns(&[source.column(key_index).clone()])?;
        let mut by_key: HashMap<Vec<u8>, u32> = HashMap::with_capacity(source.num_rows());
        for row in 0..source.num_rows() {
            by_key.insert(source_keys.row(row).as_ref().to_vec(), row as u32);
        }
        let new_fields: Vec<Field> = schema
            .fields()
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != key_index)
            .map(|(_, f)| f.as_ref().clone().with_nullable(true))
            .collect();
        let value_indices: Vec<usize> = (0..schema.fields().len()).filter(|i| *i != key_index).collect();
        let new_schema = table.with_added(&new_fields, self.manifest.max_field_id)?;
        let added = new_schema.fields_from(table.arrow().fields().len());
        let input = table.project(&[left_on])?;
        let files = self
            .write_column_files(&input, &added, |batch| {
                let keys = converter.convert_columns(&[batch.column(0).clone()])?;
                let rows: UInt32Array = (0..batch.num_rows())
                    .map(|r| by_key.get(keys.row(r).as_ref()).copied())
                    .collect();
                value_indices
                    .iter()
                    .map(|&i| Ok(arrow_select::take::take(source.column(i), &rows, None)?))
                    .collect()
            })
            .await?;
        self.commit_schema(Operation::AddColumns, new_schema, files, Vec::new())
            .await
    }

    /// Drops columns (metadata only; space is reclaimed by compaction and cleanup).
    pub async fn drop_columns(&mut self, names: &[&str]) -> Result<()> {
        let new_schema = self.manifest.schema.without(names)?;
        if new_schema.arrow().fields().is_empty() {
            return Err(TableError::InvalidArgument("cannot drop every column".into()));
        }
        self.commit_schema(Operation::DropColumns, new_schema, HashMap::new(), Vec::new())
            .await
    }

    /// Renames, changes nullability of, or casts columns. Only casts write
    /// data: one new file per fragment holding the cast column.
    pub async fn alter_columns(&mut self, alterations: &[ColumnAlteration]) -> Result<()> {
        let mut schema = self.manifest.schema.clone();
        let mut casts = Vec::new();
        for alteration in alterations {
            let mut parts = alteration.path.split('.');
            let top = parts.next().unwrap_or_default();
            let rest: Vec<&str> = parts.collect();
            let index = schema.index_of(top)?;
            let field = schema.arrow().field(index).clone();
            if alteration.nullable == Some(false) {
                let column = if rest.is_empty() {
                    quote(top)
                } else {
                    alteration.path.split('.').map(quote).collect::<Vec<_>>().join(".")
                };
                let nulls = self.count_rows(Some(&format!("{column} IS NULL"))).await?;
                if nulls > 0 {
                    return Err(TableError::InvalidArgument(format!(
                        "{} holds {nulls} nulls",
                        alteration.path
                    )));
                }
            }
            let mut altered = alter_field(&field, &rest, alteration)?;
            if let Some(data_type) = &alteration.data_type {
                if !rest.is_empty() {
                    return Err(TableError::InvalidArgument("only top-level columns can be cast".into()));
                }
                if !arrow_cast::can_cast_types(field.data_type(), data_type) {
                    return Err(TableError::InvalidArgument(format!(
                        "cannot cast {} to {data_type}",
                        field.data_type()
                    )));
                }
                altered = altered.with_data_type(data_type.clone());
                casts.push(index);
            }
            schema = if alteration.data_type.is_some() {
                replace_top(&schema, index, altered)?
            } else {
                schema.with_replaced(index, altered)?
            };
        }
        check_unique_names(schema.arrow().fields(), "")?;
        if casts.is_empty() {
            return self
                .commit_schema(Operation::AlterColumns, schema, HashMap::new(), Vec::new())
                .await;
        }
        let cast_schema = schema.select(&casts);
        let old = self.manifest.schema.select(&casts);
        let superseded = cast_schema.top_level_ids();
        let options = arrow_cast::CastOptions {
            safe: false,
            ..Default::default()
        };
        let targets: Vec<DataType> = cast_schema
            .arrow()
            .fields()
            .iter()
            .map(|f| f.data_type().clone())
            .collect();
        let files = self
            .write_column_files(&old, &cast_schema, |batch| {
                batch
                    .columns()
                    .iter()
                    .zip(&targets)
                    .map(|(column, target)| Ok(arrow_cast::cast_with_options(column, target, &options)?))
                    .collect()
            })
            .await?;
        self.commit_schema(Operation::AlterColumns, schema, files, superseded)
            .await
    }

    /// For every fragment, reads `input` over all physical rows in chunks,
    /// computes `output` columns and writes them as one new data file.
    async fn write_column_files<F>(
        &self,
        input: &TableSchema,
        output: &TableSchema,
        compute: F,
    ) -> Result<HashMap<u64, Vec<proto::DataFile>>>
    where
        F: Fn(&RecordBatch) -> Result<Vec<ArrayRef>>,
    {
        let mut files = HashMap::new();
        for fragment in self.all_fragments().await?.iter() {
            let reader = FragmentReader::open(&self.location, &self.cache, Arc::new(fragment.clone())).await?;
            let mut file = OpenFile::start(&self.location, output, Default::default()).await?;
            let mut start = 0;
            let result: Result<()> = async {
                while start < fragment.physical_rows {
                    let end = (start + CHUNK_ROWS).min(fragment.physical_rows);
                    let batch = reader.read_range(input, start..end).await?;
                    let columns = compute(&batch)?;
                    let columns = columns
                        .into_iter()
                        .zip(output.arrow().fields())
                        .map(|(c, f)| crate::arrays::conform(c, f.data_type()))
                        .collect::<Result<Vec<_>>>()?;
                    let batch = RecordBatch::try_new(output.arrow().clone(), columns)?;
                    file.write(&batch).await?;
                    start = end;
                }
                Ok(())
            }
            .await;
            if let Err(e) = result {
                file.abort().await;
                return Err(e);
            }
            let (file, _) = file.finish_file(output).await?;
            files.insert(fragment.id, vec![file]);
        }
        Ok(files)
    }

    async fn commit_schema(
        &mut self,
        operation: Operation,
        schema: TableSchema,
        added_files: HashMap<u64, Vec<proto::DataFile>>,
        superseded: Vec<i32>,
    ) -> Result<()> {
        let change = Change::Schema {
            schema,
            added_files,
            superseded,
        };
        self.commit(Transaction::new(operation, change)).await
    }
}

/// Double-quotes an identifier for SQL.
fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Replaces a top-level field whose type may change shape (a cast).
fn replace_top(schema: &TableSchema, index: usize, field: Field) -> Result<TableSchema> {
    let old = schema.arrow().field(index);
    let same_shape = matches!(
        (old.data_type(), field.data_type()),
        (a, b) if !a.is_nested() && !b.is_nested()
    );
    if same_shape {
        return schema.with_replaced(index, field);
    }
    Err(TableError::InvalidArgument(format!(
        "cannot cast nested column {:?}",
        old.name()
    )))
}

/// Fails when two columns (or two fields of one struct) share a name, as a rename can cause.
fn check_unique_names(fields: &Fields, parent: &str) -> Result<()> {
    let mut seen = std::collections::HashSet::new();
    for field in fields {
        if !seen.insert(field.name().as_str()) {
            return Err(TableError::InvalidArgument(format!(
                "two columns would be named {:?}",
                format!("{parent}{}", field.name())
            )));
        }
        if let DataType::Struct(children) = field.data_type() {
            check_unique_names(children, &format!("{parent}{}.", field.name()))?;
        }
    }
    Ok(())
}

/// Applies a rename or nullability change at `path` inside `field`.
fn alter_field(field: &Field, path: &[&str], alteration: &ColumnAlteration) -> Result<Field> {
    let Some((head, tail)) = path.split_first() else {
        let mut out = field.clone();
        if let Some(name) = &alteration.rename {
            out = out.with_name(name.clone());
        }
        if let Some(nullable) = alteration.nullable {
            out = out.with_nullable(nullable);
        }
        return Ok(out);
    };
    let DataType::Struct(children) = field.data_type() else {
        return Err(TableError::ColumnNotFound {
            name: alteration.path.clone(),
        });
    };
    let position = children
        .iter()
        .position(|c| c.name() == head)
        .ok_or_else(|| TableError::ColumnNotFound {
            name: alteration.path.clone(),
        })?;
    let mut new_children: Vec<FieldRef> = children.iter().cloned().collect();
    new_children[position] = Arc::new(alter_field(&children[position], tail, alteration)?);
    Ok(field
        .clone()
        .with_data_type(DataType::Struct(Fields::from(new_children))))
}
