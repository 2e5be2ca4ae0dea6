//! Reading text columns. The schema's keys use a binary collation (ids compare and
//! sort byte-wise, as in SQLite), and the server flags such columns BINARY, which
//! sqlx's checked decode refuses as `String`; the bytes are UTF-8 all the same.

use sqlx::mysql::MySqlRow;
use sqlx::Row;

use super::StoreError;

/// Column `col` as text.
pub(super) fn text(row: &MySqlRow, col: usize) -> Result<String, StoreError> {
    Ok(row.try_get_unchecked::<String, _>(col)?)
}

/// Column `col` as text or NULL.
pub(super) fn opt_text(row: &MySqlRow, col: usize) -> Result<Option<String>, StoreError> {
    Ok(row.try_get_unchecked::<Option<String>, _>(col)?)
}

/// Column `col` as an integer (any integer column, or a literal).
pub(super) fn int(row: &MySqlRow, col: usize) -> Result<i64, StoreError> {
    Ok(row.try_get_unchecked::<i64, _>(col)?)
}

/// Column `col` as an integer or NULL.
pub(super) fn opt_int(row: &MySqlRow, col: usize) -> Result<Option<i64>, StoreError> {
    Ok(row.try_get_unchecked::<Option<i64>, _>(col)?)
}

/// The first column of every row, as text.
pub(super) fn texts(rows: &[MySqlRow]) -> Result<Vec<String>, StoreError> {
    rows.iter().map(|r| text(r, 0)).collect()
}
