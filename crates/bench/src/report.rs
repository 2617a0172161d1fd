//! One line per goal: the figure, the goal, the anchor it is compared with, and the ratio
//! (above 1.0 means the goal is met, whichever direction is better).

/// Which way is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Better {
    /// More is better (throughput).
    Higher,
    /// Less is better (latency, memory, time).
    Lower,
    /// Informational, no goal.
    None,
}

/// One result.
#[derive(Debug, Clone)]
pub struct Line {
    /// `G1`, `G4-p99`, …
    pub goal: String,
    /// What was measured.
    pub what: String,
    /// The figure.
    pub value: f64,
    /// Its unit.
    pub unit: String,
    /// The goal's figure (same unit), if any.
    pub target: Option<f64>,
    /// Direction.
    pub better: Better,
    /// The published anchor, as text.
    pub anchor: String,
    /// Setup notes (sizes).
    pub setup: String,
}

impl Line {
    /// Figure ÷ goal (Higher) or goal ÷ figure (Lower).
    pub fn ratio(&self) -> Option<f64> {
        let target = self.target?;
        match self.better {
            Better::Higher if target > 0.0 => Some(self.value / target),
            Better::Lower if self.value > 0.0 => Some(target / self.value),
            _ => None,
        }
    }

    /// The printed line.
    pub fn render(&self) -> String {
        let ratio = match self.ratio() {
            Some(r) => format!("{r:.2}x {}", if r >= 1.0 { "met" } else { "MISSED" }),
            None => "-".to_owned(),
        };
        let target = match (self.target, self.better) {
            (Some(t), Better::Higher) => format!(">= {} {}", fmt(t), self.unit),
            (Some(t), Better::Lower) => format!("<= {} {}", fmt(t), self.unit),
            _ => "-".to_owned(),
        };
        format!(
            "{:<7} {:<44} {:>12} {:<9} goal {:<18} ratio {:<12} anchor: {} [{}]",
            self.goal,
            self.what,
            fmt(self.value),
            self.unit,
            target,
            ratio,
            self.anchor,
            self.setup
        )
    }
}

/// A number with sensible precision.
pub fn fmt(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}")
    }
}
