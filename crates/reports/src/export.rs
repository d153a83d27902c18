//! Reports as tables, and tables as CSV and XLSX (the tender's "spreadsheet", §7 and §8.4):
//! one [`Table`] per report with headers in Italian or English; CSV through the `csv` crate,
//! XLSX through `rust_xlsxwriter` (a sheet per table, bold frozen header, number formats for
//! percentages and seconds).

use rust_xlsxwriter::{Format, Workbook, XlsxError};
use serde::Serialize;

use crate::agents::AgentRow;
use crate::queues::{CallsRow, QueueReport, QueueRow};
use crate::sla::{Direction, SlaReport};

/// The language of headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Lang {
    It,
    En,
}

impl Lang {
    /// `it` or `en` (anything else is English).
    pub fn parse(s: &str) -> Lang {
        if s.eq_ignore_ascii_case("it") {
            Lang::It
        } else {
            Lang::En
        }
    }
}

/// One value of a table.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Cell {
    Empty,
    Text(String),
    Int(u64),
    /// Seconds, two decimals.
    Seconds(f64),
    /// A percentage (0–100), two decimals.
    Percent(f64),
    Number(f64),
}

impl Cell {
    fn text(&self) -> String {
        match self {
            Cell::Empty => String::new(),
            Cell::Text(s) => s.clone(),
            Cell::Int(n) => n.to_string(),
            Cell::Seconds(x) | Cell::Percent(x) | Cell::Number(x) => format!("{x:.2}"),
        }
    }
}

impl From<Option<f64>> for Cell {
    fn from(v: Option<f64>) -> Cell {
        v.map_or(Cell::Empty, Cell::Seconds)
    }
}

fn pct(v: Option<f64>) -> Cell {
    v.map_or(Cell::Empty, Cell::Percent)
}

/// A report as rows and columns.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Table {
    /// The sheet's name (at most 31 characters, no `[]:*?/\`).
    pub name: String,
    pub headers: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
}

fn headers(lang: Lang, pairs: &[(&str, &str)]) -> Vec<String> {
    pairs
        .iter()
        .map(|(it, en)| match lang {
            Lang::It => (*it).to_owned(),
            Lang::En => (*en).to_owned(),
        })
        .collect()
}

const QUEUE_HEADERS: &[(&str, &str)] = &[
    ("Periodo", "Period"),
    ("Coda", "Queue"),
    ("Offerte", "Offered"),
    ("Risposte", "Answered"),
    ("Risposte entro soglia", "Answered within target"),
    ("Abbandonate", "Abandoned"),
    ("Abbandoni brevi", "Short abandons"),
    ("Trabocchi", "Overflowed"),
    ("Trasferite", "Transferred"),
    ("In attesa", "Waiting"),
    ("Tempo medio di risposta (s)", "Average answer time (s)"),
    (
        "Tempo di risposta 90° percentile (s)",
        "Answer time 90th percentile (s)",
    ),
    ("Tempo medio in coda (s)", "Average queue time (s)"),
    ("Durata media conversazione (s)", "Average talk time (s)"),
    ("Post-chiamata medio (s)", "Average wrap-up (s)"),
    ("Livello di servizio (%)", "Service level (%)"),
    ("Abbandonate (%)", "Abandoned (%)"),
];

fn queue_cells(r: &QueueRow) -> Vec<Cell> {
    vec![
        Cell::Text(r.label.clone()),
        Cell::Text(r.queue.clone()),
        Cell::Int(r.offered),
        Cell::Int(r.answered),
        Cell::Int(r.answered_within_target),
        Cell::Int(r.abandoned),
        Cell::Int(r.abandoned_short),
        Cell::Int(r.overflowed),
        Cell::Int(r.transferred),
        Cell::Int(r.waiting),
        r.answer_time.mean_s.into(),
        r.answer_time.p90_s.into(),
        r.queue_time.mean_s.into(),
        r.talk_time.mean_s.into(),
        r.average_wrap_up_s.into(),
        pct(r.service_level_pct),
        pct(r.abandoned_pct),
    ]
}

/// The queue report: its rows, then the totals per queue.
pub fn queue_table(report: &QueueReport, lang: Lang) -> Table {
    let total = match lang {
        Lang::It => "Totale",
        Lang::En => "Total",
    };
    let mut rows: Vec<Vec<Cell>> = report.rows.iter().map(queue_cells).collect();
    if report.sampling != crate::period::Sampling::Total {
        rows.extend(report.totals.iter().map(|r| {
            let mut cells = queue_cells(r);
            cells[0] = Cell::Text(total.to_owned());
            cells
        }));
    }
    Table {
        name: match lang {
            Lang::It => "Code",
            Lang::En => "Queues",
        }
        .to_owned(),
        headers: headers(lang, QUEUE_HEADERS),
        rows,
    }
}

/// The phone channel's overview.
pub fn calls_table(rows: &[CallsRow], lang: Lang) -> Table {
    Table {
        name: match lang {
            Lang::It => "Chiamate",
            Lang::En => "Calls",
        }
        .to_owned(),
        headers: headers(
            lang,
            &[
                ("Periodo", "Period"),
                ("Contatti", "Contacts"),
                ("Rifiutate", "Refused"),
                ("Benvenuto", "Reached the welcome"),
                ("In coda", "Queued"),
                ("Risposte", "Answered"),
                ("Abbandonate", "Abandoned"),
                ("In segreteria", "To voicemail"),
                ("Chiuse prima della coda", "Ended before a queue"),
            ],
        ),
        rows: rows
            .iter()
            .map(|r| {
                vec![
                    Cell::Text(r.label.clone()),
                    Cell::Int(r.contacts),
                    Cell::Int(r.refused),
                    Cell::Int(r.welcomed),
                    Cell::Int(r.queued),
                    Cell::Int(r.answered),
                    Cell::Int(r.abandoned),
                    Cell::Int(r.to_voicemail),
                    Cell::Int(r.ended_before_queue),
                ]
            })
            .collect(),
    }
}

/// The agents' report (not-ready reasons as one column, `reason: seconds; …`).
pub fn agents_table(rows: &[AgentRow], lang: Lang) -> Table {
    Table {
        name: match lang {
            Lang::It => "Operatori",
            Lang::En => "Agents",
        }
        .to_owned(),
        headers: headers(
            lang,
            &[
                ("Periodo", "Period"),
                ("Operatore", "Agent"),
                ("Collegato (s)", "Logged in (s)"),
                ("Pronto (s)", "Ready (s)"),
                ("Non pronto (s)", "Not ready (s)"),
                ("Non pronto per causale", "Not ready by reason"),
                ("Squillo (s)", "Ringing (s)"),
                ("In conversazione (s)", "Talking (s)"),
                ("Post-chiamata (s)", "Wrap-up (s)"),
                ("Offerte", "Offered"),
                ("Risposte", "Answered"),
                ("Senza risposta", "Ring no answer"),
                ("Tempo medio di gestione (s)", "Average handling time (s)"),
                ("Richieste chiuse", "Requests closed"),
            ],
        ),
        rows: rows
            .iter()
            .map(|r| {
                vec![
                    Cell::Text(r.label.clone()),
                    Cell::Text(r.agent.clone()),
                    Cell::Seconds(r.logged_in_s),
                    Cell::Seconds(r.ready_s),
                    Cell::Seconds(r.not_ready_s),
                    Cell::Text(
                        r.not_ready_by_reason_s
                            .iter()
                            .map(|(k, v)| format!("{}: {v:.0}", if k.is_empty() { "-" } else { k }))
                            .collect::<Vec<_>>()
                            .join("; "),
                    ),
                    Cell::Seconds(r.ringing_s),
                    Cell::Seconds(r.talking_s),
                    Cell::Seconds(r.wrap_up_s),
                    Cell::Int(r.offered),
                    Cell::Int(r.answered),
                    Cell::Int(r.ring_no_answer),
                    r.average_handling_s.into(),
                    Cell::Int(r.tickets_closed),
                ]
            })
            .collect(),
    }
}

/// The SLA report: a line per level, with the threshold applied and the points below.
pub fn sla_table(report: &SlaReport, lang: Lang) -> Table {
    let (yes, no) = match lang {
        Lang::It => ("sì", "no"),
        Lang::En => ("yes", "no"),
    };
    Table {
        name: format!("SLA {}", report.month),
        headers: headers(
            lang,
            &[
                ("Livello di servizio", "Service level"),
                ("Misurato (%)", "Measured (%)"),
                ("Numeratore", "Numerator"),
                ("Denominatore", "Denominator"),
                ("Verso", "Direction"),
                ("Soglia (%)", "Threshold (%)"),
                ("Punti di trabocco", "Overflow points"),
                ("Soglia applicata (%)", "Applied threshold (%)"),
                ("Punti sotto soglia", "Points below"),
                ("Punti di penale", "Penalty points"),
                ("Rispettato", "Met"),
            ],
        ),
        rows: report
            .lines
            .iter()
            .map(|l| {
                vec![
                    Cell::Text(l.id.to_owned()),
                    pct(l.measured_pct),
                    Cell::Int(l.numerator),
                    Cell::Int(l.denominator),
                    Cell::Text(
                        match l.direction {
                            Direction::AtLeast => "≥",
                            Direction::AtMost => "≤",
                        }
                        .to_owned(),
                    ),
                    Cell::Percent(l.threshold_pct),
                    Cell::Int(u64::from(l.overflow_points)),
                    Cell::Percent(l.applied_threshold_pct),
                    Cell::Number(l.points_below),
                    Cell::Int(u64::from(l.penalty_points)),
                    Cell::Text(
                        match l.met {
                            Some(true) => yes,
                            Some(false) => no,
                            None => "",
                        }
                        .to_owned(),
                    ),
                ]
            })
            .collect(),
    }
}

/// Why an export failed.
#[derive(Debug)]
pub struct ExportError(String);

impl std::fmt::Display for ExportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "export failed: {}", self.0)
    }
}

impl std::error::Error for ExportError {}

impl From<XlsxError> for ExportError {
    fn from(e: XlsxError) -> ExportError {
        ExportError(e.to_string())
    }
}

impl From<csv::Error> for ExportError {
    fn from(e: csv::Error) -> ExportError {
        ExportError(e.to_string())
    }
}

/// The tables as CSV, one after the other with an empty line between them (a spreadsheet
/// opens it as one sheet). Text that a spreadsheet would read as a formula (`=`, `+`, `-`,
/// `@` first) is prefixed with `'`, so a queue or reason name cannot inject one.
pub fn to_csv(tables: &[Table]) -> Result<Vec<u8>, ExportError> {
    let mut w = csv::WriterBuilder::new()
        .flexible(true)
        .from_writer(Vec::new());
    for (i, t) in tables.iter().enumerate() {
        if i > 0 {
            w.write_record([""])?;
        }
        w.write_record(&t.headers)?;
        for row in &t.rows {
            w.write_record(row.iter().map(|c| match c {
                Cell::Text(s) => defuse(s),
                other => other.text(),
            }))?;
        }
    }
    w.into_inner().map_err(|e| ExportError(e.to_string()))
}

fn defuse(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_owned()
    }
}

/// A sheet name Excel accepts: at most 31 characters, none of `[]:*?/\`.
fn sheet_name(name: &str) -> String {
    name.chars()
        .map(|c| if "[]:*?/\\".contains(c) { '-' } else { c })
        .take(31)
        .collect()
}

/// The tables as an XLSX workbook, a sheet each.
pub fn to_xlsx(tables: &[Table]) -> Result<Vec<u8>, ExportError> {
    let mut book = Workbook::new();
    let bold = Format::new().set_bold();
    let two = Format::new().set_num_format("0.00");
    for t in tables {
        let sheet = book.add_worksheet();
        sheet.set_name(sheet_name(&t.name))?;
        for (c, h) in t.headers.iter().enumerate() {
            let col = u16::try_from(c).map_err(|_| ExportError("too many columns".into()))?;
            sheet.write_string_with_format(0, col, h, &bold)?;
            sheet.set_column_width(col, (h.chars().count() as f64 + 2.0).clamp(10.0, 40.0))?;
        }
        sheet.set_freeze_panes(1, 0)?;
        for (r, row) in t.rows.iter().enumerate() {
            let line = u32::try_from(r + 1).map_err(|_| ExportError("too many rows".into()))?;
            for (c, cell) in row.iter().enumerate() {
                let col = u16::try_from(c).map_err(|_| ExportError("too many columns".into()))?;
                match cell {
                    Cell::Empty => {}
                    Cell::Text(s) => {
                        sheet.write_string(line, col, s)?;
                    }
                    #[expect(clippy::cast_precision_loss, reason = "counts stay below 2^52")]
                    Cell::Int(n) => {
                        sheet.write_number(line, col, *n as f64)?;
                    }
                    Cell::Seconds(x) | Cell::Percent(x) | Cell::Number(x) => {
                        sheet.write_number_with_format(line, col, *x, &two)?;
                    }
                }
            }
        }
    }
    Ok(book.save_to_buffer()?)
}

/// The Service Requests report.
pub fn tickets_table(rows: &[crate::tickets::TicketRow], lang: Lang) -> Table {
    Table {
        name: match lang {
            Lang::It => "Richieste",
            Lang::En => "Requests",
        }
        .to_owned(),
        headers: headers(
            lang,
            &[
                ("Periodo", "Period"),
                ("Canale", "Channel"),
                ("Tipo", "Type"),
                ("Create", "Created"),
                ("Risolte", "Resolved"),
                ("Risolte al primo contatto", "Resolved at first contact"),
                ("Primo contatto (%)", "First contact (%)"),
                ("Prese in carico in tempo", "Taken in charge in time"),
                ("Prese in carico misurate", "Taken in charge counted"),
                ("Risolte in tempo", "Resolved in time"),
                ("Risoluzioni misurate", "Resolutions counted"),
            ],
        ),
        rows: rows
            .iter()
            .map(|r| {
                vec![
                    Cell::Text(r.label.clone()),
                    Cell::Text(r.channel.clone()),
                    Cell::Text(r.ticket_type.clone()),
                    Cell::Int(r.created),
                    Cell::Int(r.resolved),
                    Cell::Int(r.first_contact),
                    pct(r.first_contact_pct),
                    Cell::Int(r.taken_in_time),
                    Cell::Int(r.taken_counted),
                    Cell::Int(r.resolved_in_time),
                    Cell::Int(r.resolved_counted),
                ]
            })
            .collect(),
    }
}
