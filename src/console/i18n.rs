//! The interface's words in English and 简体中文. Every visible string goes through
//! `tr`, so a missing translation is a compile error, not an English island.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    ZhCn,
}

impl Lang {
    /// `auto` follows LC_ALL, LC_MESSAGES, then LANG, as gettext does.
    pub fn resolve(setting: &str) -> Lang {
        match setting {
            "en" => Lang::En,
            "zh-CN" | "zh_CN" | "zh" => Lang::ZhCn,
            _ => {
                let env = ["LC_ALL", "LC_MESSAGES", "LANG"]
                    .iter()
                    .filter_map(|k| std::env::var(k).ok())
                    .find(|v| !v.is_empty())
                    .unwrap_or_default();
                if env.starts_with("zh") {
                    Lang::ZhCn
                } else {
                    Lang::En
                }
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Msg {
    ViewOverview,
    ViewForecast,
    ViewActions,
    ViewIncidents,
    ViewAudit,
    Cpu,
    Memory,
    Disk,
    Network,
    Load,
    Swap,
    CpuLastHour,
    PerCore,
    Filesystems,
    Mount,
    FsType,
    Size,
    Used,
    UsePct,
    Up,
    Source,
    Containers,
    Shadow,
    Live,
    Paused,
    Waiting,
    Help,
    HelpTitle,
    HelpClose,
    Dangerous,
    TooSmall,
    NotYet,
    KeyQuit,
    KeyHelp,
    KeyNextView,
    KeyPrevView,
    KeyViewN,
    KeyPause,
    KeyClose,
    Read,
    Write,
    Cores,
    Now,
    ShortHelp,
    ShortQuit,
    ShortView,
    ShortPause,
    In15m,
    In1h,
    Learning,
    MoreHours,
    NoData,
}

pub fn tr(lang: Lang, m: Msg) -> &'static str {
    use Msg::*;
    match lang {
        Lang::En => match m {
            ViewOverview => "Overview",
            ViewForecast => "Forecast",
            ViewActions => "Actions",
            ViewIncidents => "Incidents",
            ViewAudit => "Audit",
            Cpu => "CPU",
            Memory => "Memory",
            Disk => "Disk",
            Network => "Network",
            Load => "Load",
            Swap => "swap",
            CpuLastHour => "CPU · last hour",
            PerCore => "Per core",
            Filesystems => "Filesystems",
            Mount => "Mount",
            FsType => "Type",
            Size => "Size",
            Used => "Used",
            UsePct => "Use%",
            Up => "up",
            Source => "source",
            Containers => "containers",
            Shadow => " SHADOW · records only ",
            Live => " LIVE · actions run ",
            Paused => "PAUSED",
            Waiting => "waiting for the first sample…",
            Help => "help",
            HelpTitle => "Keys",
            HelpClose => "Esc or ? closes this help",
            Dangerous => "(!) changes what vigil does",
            TooSmall => "Terminal too small",
            NotYet => {
                "This view arrives with a later release of vigil. The Overview (1) is live now."
            }
            KeyQuit => "quit",
            KeyHelp => "show or hide this help",
            KeyNextView => "next view",
            KeyPrevView => "previous view",
            KeyViewN => "go to view 1-5",
            KeyPause => "pause or resume sampling",
            KeyClose => "close the overlay",
            Read => "r ",
            Write => "w ",
            Cores => "cores",
            Now => "now",
            ShortHelp => "help",
            ShortQuit => "quit",
            ShortView => "views",
            ShortPause => "pause",
            In15m => "in 15 min",
            In1h => "in 1 h",
            Learning => "learning:",
            MoreHours => "more hours needed",
            NoData => "no data from this source",
        },
        Lang::ZhCn => match m {
            ViewOverview => "概览",
            ViewForecast => "预测",
            ViewActions => "操作",
            ViewIncidents => "事件",
            ViewAudit => "审计",
            Cpu => "CPU",
            Memory => "内存",
            Disk => "磁盘",
            Network => "网络",
            Load => "负载",
            Swap => "交换",
            CpuLastHour => "CPU · 最近一小时",
            PerCore => "各核心",
            Filesystems => "文件系统",
            Mount => "挂载点",
            FsType => "类型",
            Size => "容量",
            Used => "已用",
            UsePct => "使用率",
            Up => "已运行",
            Source => "数据源",
            Containers => "容器",
            Shadow => " SHADOW 影子模式 · 只记录 ",
            Live => " LIVE 实时模式 · 会执行 ",
            Paused => "已暂停",
            Waiting => "等待第一次采样…",
            Help => "帮助",
            HelpTitle => "按键",
            HelpClose => "按 Esc 或 ? 关闭帮助",
            Dangerous => "(!) 会改变 vigil 的行为",
            TooSmall => "终端窗口太小",
            NotYet => "此视图将在 vigil 的后续版本中提供。概览（1）和预测（2）现已可用。",
            KeyQuit => "退出",
            KeyHelp => "显示或隐藏帮助",
            KeyNextView => "下一个视图",
            KeyPrevView => "上一个视图",
            KeyViewN => "切换到视图 1-5",
            KeyPause => "暂停或继续采样",
            KeyClose => "关闭浮层",
            Read => "读",
            Write => "写",
            Cores => "核",
            Now => "现在",
            ShortHelp => "帮助",
            ShortQuit => "退出",
            ShortView => "视图",
            ShortPause => "暂停",
            In15m => "15 分钟后",
            In1h => "1 小时后",
            Learning => "学习中：还需",
            MoreHours => "小时的数据",
            NoData => "此数据源没有该指标",
        },
    }
}
